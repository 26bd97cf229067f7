"""Bench: the agenda PDF of a 20-item agenda, in-process (SQLite), beside its floor.

Three agendas of 20 items: speakers in six scripts (Thai, Vietnamese, Khmer, Myanmar, Chinese,
Latin), English only, Chinese only. Each is rendered "cold" (its stored PDF deleted: template,
WeasyPrint, storing the PDF) interleaved with the floor, one paragraph in the same fonts
(bench/floor_app.py's PARAGRAPH), rendered by WeasyPrint as installed in a process of its own
(the app changes how WeasyPrint subsets fonts in its process, webinar_mgr/pdfs.py; the floor must
not get those changes). Prints medians of N rounds (wall time; the app's CPU time beside it) and
the ratios, then the stored PDF's time.

    .venv/bin/python bench/bench_agenda_pdf.py [--rounds N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from webinar_mgr import create_app, pdfs
from webinar_mgr.events import pdf, settings
from webinar_mgr.events.models import AgendaItem, Event, RenderedPdf, Speaker
from webinar_mgr.extensions import db

SCRIPTS = ["สมชาย ใจดี", "Nguyễn Thị Lan", "សុខ ដារ៉ា", "ပန်းဖြူ", "李明", "Margaret Ellison"]
AGENDAS = {
    "six scripts": ("Regional webinar with a long agenda", lambda n: f"Presentation {n + 1} on a topic", SCRIPTS),
    "English": ("Regional webinar", lambda n: f"Presentation {n + 1}: technology and trafficking", ["Ann Lee"]),
    "Chinese": ("区域网络研讨会", lambda n: f"第{n + 1}场报告：打击人口贩运与技术的作用", ["李明", "王芳"]),
}


def _floor_process(conn) -> None:
    """The floor: WeasyPrint as installed, in a process of its own; renders the paragraph on
    each request and answers with the seconds it took."""
    from weasyprint import HTML

    from bench.floor_app import PARAGRAPH

    HTML(string=PARAGRAPH).write_pdf()  # warm: fonts loaded, as the floor app's workers are
    while conn.recv():
        t = time.perf_counter()
        HTML(string=PARAGRAPH).write_pdf()
        conn.send(time.perf_counter() - t)


def _event(title: str, item_title, names: list[str]) -> int:
    start = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)
    event = Event(
        title=title,
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
            title=item_title(n),
        )
        db.session.add(item)
        db.session.flush()
        for k in range(2):
            db.session.add(
                Speaker(
                    agenda_item_id=item.id,
                    name=names[(n + k) % len(names)],
                    title="Director",
                    organisation_name="Some organisation",
                    position=k,
                )
            )
    return event.id


def main() -> None:
    from flask_migrate import upgrade

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    rounds = ap.parse_args().rounds

    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    floor = ctx.Process(target=_floor_process, args=(there,), daemon=True)
    floor.start()

    tmp = tempfile.mkdtemp(prefix="bench_pdf_")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.db", INSTANCE_DIR=tmp)
    with app.app_context(), app.test_request_context():
        upgrade(revision="heads")
        ids = {name: _event(*spec) for name, spec in AGENDAS.items()}
        db.session.commit()
        pdfs.warm_up()  # what a worker does at start (production: PDF_WARM_UP)
        events = {}
        for name, event_id in ids.items():
            db.session.expire_all()
            events[name] = db.session.get(Event, event_id)

        def cold(event):
            db.session.execute(sa.delete(RenderedPdf))
            db.session.commit()
            wall, cpu = time.perf_counter(), time.process_time()
            pdf.agenda_pdf(event)
            return time.perf_counter() - wall, time.process_time() - cpu

        def paragraph() -> float:
            here.send(True)
            return here.recv()

        for event in events.values():  # each agenda once: templates, fonts at its sizes
            cold(event)
        paragraph()
        walls = {name: [] for name in events}
        cpus = {name: [] for name in events}
        floors: list[float] = []
        for _ in range(rounds):
            for name, event in events.items():
                wall, cpu = cold(event)
                walls[name].append(wall)
                cpus[name].append(cpu)
                floors.append(paragraph())
        stored = []
        for _ in range(20):
            t = time.perf_counter()
            pdf.agenda_pdf(events["six scripts"])
            stored.append(time.perf_counter() - t)
        sizes = {name: len(pdf.agenda_pdf(event)) for name, event in events.items()}
    here.send(False)
    floor.join(5)

    med_floor = statistics.median(floors)
    print(f"agenda PDF, 20 items, 3 zones, cold, median of {rounds} rounds interleaved with the floor")
    print(f"  floor: one paragraph in the same fonts, WeasyPrint as installed : {med_floor * 1000:7.1f} ms")
    for name in events:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"  {name:12s} cold {wall * 1000:7.1f} ms (CPU {cpu * 1000:6.1f} ms)  "
            f"ratio {wall / med_floor:5.2f}  goal <= 3 x floor  {sizes[name] / 1024:5.0f} KiB"
        )
    print(f"  stored (six scripts, median of 20): {statistics.median(stored) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
