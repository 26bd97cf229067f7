"""Bench: the agenda PDF of a 20-item agenda.

Prints the cold render time (nothing cached: template + WeasyPrint + storing the PDF), the
cached time (hash of the rendered HTML + one SELECT), and the ratio of the cold render to
WeasyPrint rendering a one-paragraph document in the same (warmed-up) process.

    .venv/bin/python bench/bench_agenda_pdf.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from webinar_mgr import create_app
from webinar_mgr.events import pdf, settings
from webinar_mgr.events.models import AgendaItem, Event, RenderedPdf, Speaker
from webinar_mgr.extensions import db

SCRIPTS = ["สมชาย ใจดี", "Nguyễn Thị Lan", "សុខ ដារ៉ា", "ပန်းဖြူ", "李明", "Margaret Ellison"]


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    from flask_migrate import upgrade
    from weasyprint import HTML

    tmp = tempfile.mkdtemp(prefix="bench_pdf_")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.db", INSTANCE_DIR=tmp)
    with app.app_context(), app.test_request_context():
        upgrade()
        start = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)
        event = Event(
            title="Regional webinar with a long agenda",
            kind_id=settings.kind_by_code("regional_webinar").id,
            timezone="Asia/Bangkok",
            starts_at=start,
            ends_at=start + timedelta(hours=8),
            status="scheduled",
            objectives=["One", "Two", "Three"],
            summary="A bench event. " * 20,
            pdf_zones=["Australia/Sydney", "Pacific/Apia"],
        )
        db.session.add(event)
        db.session.flush()
        for n in range(20):
            item = AgendaItem(
                event_id=event.id,
                position=n,
                starts_at=start + timedelta(minutes=20 * n),
                duration_minutes=20,
                kind="presentation",
                title=f"Presentation {n + 1} on a topic",
            )
            db.session.add(item)
            db.session.flush()
            for k in range(2):
                db.session.add(
                    Speaker(
                        agenda_item_id=item.id,
                        name=SCRIPTS[(n + k) % len(SCRIPTS)],
                        title="Director",
                        organisation_name="Some organisation",
                        position=k,
                    )
                )
        db.session.commit()
        db.session.expire_all()
        event = db.session.get(Event, event.id)

        # Warm the process (fonts, CSS machinery) so no figure pays the one-off start-up.
        HTML(string="<p>warm up</p>").write_pdf()
        paragraph = "<html><body><p>One paragraph of text for the baseline.</p></body></html>"
        base = _timed(lambda: HTML(string=paragraph).write_pdf(), 10)

        def cold():
            db.session.execute(sa.delete(RenderedPdf))
            db.session.commit()
            pdf.agenda_pdf(event)

        first = _timed(cold, 1)[0]
        colds = _timed(cold, 5)
        cached = _timed(lambda: pdf.agenda_pdf(event), 50)
        size = len(pdf.agenda_pdf(event))

    med_base, med_cold, med_cached = statistics.median(base), statistics.median(colds), statistics.median(cached)
    print(f"agenda PDF, 20 items, 40 speakers in 6 scripts, 3 zones ({size / 1024:.0f} KiB)")
    print(f"  first cold render in process : {first * 1000:8.1f} ms")
    print(f"  cold render (median of 5)    : {med_cold * 1000:8.1f} ms")
    print(f"  cached (median of 50)        : {med_cached * 1000:8.1f} ms")
    print(f"  one-paragraph WeasyPrint     : {med_base * 1000:8.1f} ms (median of 10)")
    print(f"  cold / one-paragraph ratio   : {med_cold / med_base:8.1f}x")
    print(f"  cold / cached ratio          : {med_cold / med_cached:8.1f}x")


if __name__ == "__main__":
    main()
