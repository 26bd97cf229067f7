"""The work plan and outputs (issue 17): the read services the statement uses, the pages per role,
the old tags' migration, and bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.factories import make_event_row
from tests.support import QueryCounter
from webinar_mgr.extensions import db
from webinar_mgr.workplan import services
from webinar_mgr.workplan.models import (
    ActionItem,
    Output,
    OutputVersion,
    Priority,
    ProgressNote,
    WorkPlan,
)


def _plan(name="Forward Work Plan 2021-23", start=date(2021, 1, 1), end=date(2023, 12, 31), current=True):
    plan = WorkPlan(name=name, period_start=start, period_end=end, current=current)
    db.session.add(plan)
    db.session.flush()
    p1 = Priority(plan_id=plan.id, number=1, title="Law and justice responses")
    p4 = Priority(plan_id=plan.id, number=4, title="New and emerging priorities")
    db.session.add_all([p1, p4])
    db.session.flush()
    a1 = ActionItem(priority_id=p1.id, number=1, text="Share good practice on supply chains", status="delivered")
    a8 = ActionItem(priority_id=p4.id, number=8, text="Hold regional webinars on emerging issues", status="in_progress")
    db.session.add_all([a1, a8])
    db.session.commit()
    return plan, a1, a8


def _at(y, m, d):
    return datetime(y, m, d, 6, tzinfo=UTC)


def test_progress_for_period_lists_the_period_evidence_per_priority(app):
    plan, a1, a8 = _plan()
    held = make_event_row(
        title="Technology webinar", status="held", starts_at=_at(2022, 8, 24), ends_at=_at(2022, 8, 25)
    )
    old = make_event_row(title="COVID webinar", status="held", starts_at=_at(2021, 9, 15), ends_at=_at(2021, 9, 16))
    a8.events.extend([held, old])
    compendium = Output(title="Compendium", kind="compendium", published=True, published_on=date(2022, 9, 20))
    compendium.versions = [
        OutputVersion(language="en", published_on=date(2022, 9, 20), url="https://example.org/en.pdf"),
        OutputVersion(language="th", published_on=date(2022, 11, 1), url="https://example.org/th.pdf"),
    ]
    a1.outputs.append(compendium)
    a8.notes.extend(
        [
            ProgressNote(noted_on=date(2022, 8, 30), text="Webinar held", author_label="Organiser"),
            ProgressNote(noted_on=date(2021, 2, 1), text="Planning", author_label="Organiser"),
        ]
    )
    db.session.commit()

    progress = services.progress_for_period(date(2022, 1, 1), date(2022, 12, 31))
    assert progress.name == "Forward Work Plan 2021-23"
    assert [p.number for p in progress.priorities] == [1, 4]
    first, fourth = progress.priorities
    assert first.delivered == 1 and fourth.in_progress == 1
    item1, item8 = first.action_items[0], fourth.action_items[0]
    assert [e.title for e in item8.events] == ["Technology webinar"]  # the 2021 webinar is outside
    assert [n.text for n in item8.notes] == ["Webinar held"]
    assert [o.title for o in item1.outputs] == ["Compendium"]
    assert [v.language for v in item1.outputs[0].versions] == ["en", "th"]
    assert progress.delivered_count == 1 and progress.action_item_count == 2

    earlier = services.progress_for_period(date(2021, 1, 1), date(2021, 12, 31))
    assert [e.title for e in earlier.priorities[1].action_items[0].events] == ["COVID webinar"]
    assert earlier.priorities[0].action_items[0].outputs == ()
    assert services.progress_for_period(date(2019, 1, 1), date(2019, 12, 31)) is None


def test_outputs_for_period_includes_translations_added_later(app):
    out = Output(title="Compendium", kind="compendium", published=True, published_on=date(2021, 9, 20))
    out.versions = [
        OutputVersion(language="en", published_on=date(2021, 9, 20), url="https://example.org/en.pdf"),
        OutputVersion(language="km", published_on=date(2022, 3, 1), url="https://example.org/km.pdf"),
    ]
    draft = Output(title="Research on forced marriage", kind="research", published=False)
    db.session.add_all([out, draft])
    db.session.commit()

    found = services.outputs_for_period(date(2022, 1, 1), date(2022, 12, 31))
    assert [o.title for o in found] == ["Compendium"]
    assert [v.language for v in found[0].new_versions_in_period] == ["km"]
    assert len(found[0].languages) == 2
    assert services.outputs_for_period(date(2020, 1, 1), date(2020, 12, 31)) == []


def test_progress_runs_a_fixed_number_of_queries(app):
    plan, a1, a8 = _plan()

    def count():
        db.session.expire_all()
        with QueryCounter(db.engine) as q:
            services.progress_for_period(date(2021, 1, 1), date(2023, 12, 31))
        return q.count

    def add(n):
        e = make_event_row(
            title=f"Webinar {n}", status="held", starts_at=_at(2022, 1, 1 + n % 28), ends_at=_at(2022, 2, 1)
        )
        a8.events.append(e)
        o = Output(title=f"Slides {n}", kind="slides", published=True, published_on=date(2022, 5, 1))
        o.versions = [OutputVersion(language="en", published_on=date(2022, 5, 1), url="https://example.org/s.pdf")]
        a1.outputs.append(o)
        a8.notes.append(ProgressNote(noted_on=date(2022, 5, 1), text=f"Note {n}", author_label="Organiser"))
        db.session.commit()

    add(0)
    before = count()
    for n in range(1, 30):
        add(n)
    assert count() == before
