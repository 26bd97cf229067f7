"""Migration 0015: the events' free-text priority tags move onto the Forward Work Plan's action
items where a tag names one; the others stay on the event; the downgrade gives every tag back."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from webinar_mgr import create_app
from webinar_mgr.extensions import db


@pytest.fixture
def old_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="0014")
        with db.engine.begin() as conn:
            kind_id = conn.execute(sa.text("SELECT min(id) FROM event_kinds")).scalar()
            for eid, tags in (
                (1, ["Priority 4: new and emerging issues", "Technology"]),
                (2, ["Gender", "action item 10", "Forced marriage"]),
                (3, []),
                (4, ["Priority 2"]),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO events (id, uid, title, summary, objectives, kind_id, status, timezone, "
                        "priority_tags, audience, requires_approval, attendance_threshold_minutes, pdf_zones, "
                        "sequence, created_at, updated_at, waiting_list) VALUES (:id, :uid, :title, '', '[]', :kind, "
                        "'held', 'UTC', :tags, 'open', 0, 10, '[]', 0, '2022-01-01 00:00:00', "
                        "'2022-01-01 00:00:00', 1)"
                    ),
                    {"id": eid, "uid": f"e{eid}", "title": f"Event {eid}", "tags": json.dumps(tags), "kind": kind_id},
                )
        yield app
        db.engine.dispose()


def _tags(conn, event_id):
    return json.loads(
        conn.execute(sa.text("SELECT priority_tags FROM events WHERE id = :id"), {"id": event_id}).scalar()
    )


def _links(conn):
    return sorted(
        conn.execute(
            sa.text(
                "SELECT l.event_id, a.number, l.migrated_from_tag FROM action_item_events l "
                "JOIN action_items a ON a.id = l.action_item_id"
            )
        ).all()
    )


def test_tags_that_name_an_action_item_become_links_and_the_rest_stay(old_database):
    with old_database.app_context():
        upgrade(revision="0015")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name, current FROM work_plans")).all() == [
                ("Forward Work Plan 2021-23", 1)
            ]
            assert conn.execute(sa.text("SELECT count(*) FROM work_plan_priorities")).scalar() == 5
            assert conn.execute(sa.text("SELECT count(*) FROM action_items")).scalar() == 11
            assert _links(conn) == [
                (1, 8, "Priority 4: new and emerging issues"),
                (1, 9, "Technology"),
                (2, 10, "action item 10\nForced marriage"),
            ]
            assert _tags(conn, 1) == []
            assert _tags(conn, 2) == ["Gender"]  # not in the plan: kept, shown as another theme
            assert _tags(conn, 4) == ["Priority 2"]  # names a priority, not an action item: kept

        downgrade(revision="0014")
        with db.engine.connect() as conn:
            assert sorted(_tags(conn, 1)) == ["Priority 4: new and emerging issues", "Technology"]
            assert sorted(_tags(conn, 2)) == ["Forced marriage", "Gender", "action item 10"]
            assert _tags(conn, 4) == ["Priority 2"]
            assert "work_plans" not in sa.inspect(conn).get_table_names()


def test_no_plan_is_created_when_no_tag_names_an_action_item(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="0015")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM work_plans")).scalar() == 0
        db.engine.dispose()
