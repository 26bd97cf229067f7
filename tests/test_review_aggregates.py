"""The review's figures read from aggregates in SQL (issue 19) checked against the same figures
counted in Python from the rows themselves, on the hand-built dataset of tests/review_dataset.py
plus the cases an aggregate gets wrong most easily: a registration linked by two attendance rows
(counted once), one with no sector, a cancelled registration that attended, commitments of no
member government. Also the rows built by ``reports.rendering`` (dates, grid cells) against what
the template functions they replace give, in another language.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, format_date
from markupsafe import escape

from tests.review_dataset import NOW, build_dataset
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import DELIVERED, Invitation
from webinar_mgr.registrations.models import Registration
from webinar_mgr.reports import queries as q
from webinar_mgr.reports import rendering, services

PERIODS = [(date(2026, 1, 1), date(2026, 6, 30)), (date(2025, 1, 1), date(2026, 6, 30))]


@pytest.fixture
def data(app):
    d = build_dataset()
    e1, e2, e3 = d["e1"], d["e2"], d["e3"]

    def reg(event, email):
        return db.session.scalar(
            sa.select(Registration).where(Registration.event_id == event.id, Registration.email == email)
        )

    thai1 = reg(e1, "thai1@example.org")
    # a second attended row linked to the same registration (joined from two devices): one attendance
    db.session.add(
        AttendanceRecord(
            event_id=e1.id,
            registration_id=thai1.id,
            name="Thai 1, phone",
            person_key="thai1-phone",
            minutes=40,
            attended=True,
            match="manual",
        )
    )
    # a registration with no sector and no member government that attended
    nobody = Registration(
        event_id=e2.id,
        contact_id=thai1.contact_id,
        email="no-sector@example.org",
        name="No sector",
        status="confirmed",
        sector=None,
    )
    db.session.add(nobody)
    db.session.flush()
    db.session.add(
        AttendanceRecord(
            event_id=e2.id, registration_id=nobody.id, name="No sector", minutes=50, attended=True, match="email"
        )
    )
    # a commitment of no member government at another event
    db.session.add(
        Commitment(
            event_id=e3.id,
            contact_id=thai1.contact_id,
            organisation_id=None,
            member_government_id=None,
            sector="civil_society",
            kind="social_media_post",
            description="Another post",
            target_date=date(2026, 6, 1),
            status="pledged",
            nonce="m",
        )
    )
    db.session.commit()
    return d


def _counted_in_python(events: list, today: date) -> dict:
    """Every figure of the period's review counted from the rows, one by one."""
    ids = [e.id for e in events]
    regs = db.session.scalars(sa.select(Registration).where(Registration.event_id.in_(ids))).all()
    attended_ids = set(
        db.session.scalars(
            sa.select(AttendanceRecord.registration_id).where(
                AttendanceRecord.event_id.in_(ids), AttendanceRecord.attended.is_(True)
            )
        )
    )
    invitations = db.session.scalars(sa.select(Invitation).where(Invitation.event_id.in_(ids))).all()
    commitments = db.session.scalars(sa.select(Commitment).where(Commitment.event_id.in_(ids))).all()
    funnels = {i: Counter() for i in ids}
    cells = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # member -> event -> [attended, registered]
    sectors = defaultdict(Counter)  # sector -> event -> attended
    for inv in invitations:
        funnels[inv.event_id]["invited"] += inv.state in DELIVERED
    for r in regs:
        active = r.status in q.ACTIVE_STATUSES
        came = r.id in attended_ids
        f = funnels[r.event_id]
        f["registered"] += active
        f["confirmed"] += r.status == "confirmed"
        f["invited_registered"] += active and r.invitation_id is not None
        f["attended"] += came
        if r.member_government_id is not None:
            cells[r.member_government_id][r.event_id][0] += came
            cells[r.member_government_id][r.event_id][1] += active
        sectors[r.sector or q.UNKNOWN_SECTOR][r.event_id] += came
    per_event = {i: Counter() for i in ids}
    per_member = defaultdict(Counter)
    for c in commitments:
        overdue = c.status in q.OPEN_COMMITMENT_STATUSES and c.target_date < today
        for bucket in (per_event[c.event_id], per_member[c.member_government_id]):
            bucket[c.status] += 1
            bucket["overdue"] += overdue
    return {"funnels": funnels, "cells": cells, "sectors": sectors, "per_event": per_event, "per_member": per_member}


@pytest.mark.parametrize("period", PERIODS)
def test_period_figures_equal_the_rows_counted_one_by_one(data, period):
    review = services.period_review(*period, now=NOW)
    assert review.events, "the period holds events"
    ids = [e.id for e in review.events]
    want = _counted_in_python(review.events, NOW.date())

    for e, f in zip(review.events, review.event_funnels, strict=True):
        w = want["funnels"][e.id]
        got = (f.invited, f.registered, f.confirmed, f.invited_registered, f.attended)
        assert got == (w["invited"], w["registered"], w["confirmed"], w["invited_registered"], w["attended"]), e.title
    for m in review.members:
        assert m.cells == [tuple(want["cells"][m.id][i]) if i in want["cells"][m.id] else (0, 0) for i in ids], m.name
    sectors = {code: [want["sectors"][code][i] for i in ids] for code in want["sectors"]}
    assert {c: v for c, v in review.attended_by_sector_event.items() if any(v)} == {
        c: v for c, v in sectors.items() if any(v)
    }

    statuses = q.COMMITMENT_STATUSES
    for e, counts in zip(review.events, review.event_commitments, strict=True):
        w = want["per_event"][e.id]
        assert [counts.get(s, 0) for s in (*statuses, "overdue")] == [w[s] for s in (*statuses, "overdue")], e.title
    totals = sum(want["per_event"].values(), Counter())
    assert {k: v for k, v in review.commitment_totals.items() if v} == {k: v for k, v in totals.items() if v}
    names = {g.id: g.name for g in q.member_governments()}
    members = {str(r[0]): r[1:6] for r in review.commitments_members.rows}
    assert len(members) == len(want["per_member"])
    for mid, w in want["per_member"].items():
        label = names[mid] if mid is not None else "Others (not a member government)"
        assert members[label] == [w[s] for s in statuses] + [sum(w[s] for s in statuses)], label

    # the comparison's figures, counted without the review, are the review's own
    assert services.period_figures(*period, now=NOW) == services.comparison_figures(review)


def test_the_review_counts_a_registration_with_two_attendance_rows_once(data):
    review = services.period_review(*PERIODS[0], now=NOW)
    e1 = review.events.index(data["e1"])
    assert review.event_funnels[e1].attended == 3  # thai1 (two rows), priv1, phil1 (cancelled but came)
    assert review.uncounted_attended == 1  # the registration with no sector


def test_rendered_rows_equal_the_template_functions_in_another_language(app):
    table = services.Table(
        "t",
        "T",
        [
            services.Column("Name"),
            services.Column("Day", "date"),
            services.Column("E1", "cell"),
            services.Column("E2", "cell"),
            services.Column("Count", "int"),
        ],
        rows=[
            ["A & B", date(2026, 3, 10), (2, 3), (0, 1)],
            ["C", None, (2, 3), (0, 0)],
        ],
    )
    table.rows[0].append(7)
    table.rows[1].append("<8>")
    with app.test_request_context(), force_locale("th"):
        html = str(rendering.table_rows(table))
        day = escape(format_date(date(2026, 3, 10), "medium"))
        attended_of = escape(services._("%(a)d of %(r)d attended") % {"a": 2, "r": 3})
    rows = html.split("\n")
    assert len(rows) == 2
    assert f"<td>{day}</td>" in rows[0] and "<td></td>" in rows[1]
    yes = f'<td class="gcell gcell-yes" title="{attended_of}">2/3</td>'
    assert rows[0].count(yes) == 1 and rows[1].count(yes) == 1  # a repeated cell is the same HTML
    assert '<td class="gcell gcell-no"' in rows[0] and '<td class="gcell gcell-none"' in rows[1]
    assert '<th scope="row">A &amp; B</th>' in rows[0]
    assert '<td class="num">7</td>' in rows[0] and '<td class="num">&lt;8&gt;</td>' in rows[1]
