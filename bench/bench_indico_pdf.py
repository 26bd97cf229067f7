"""The agenda PDF beside Indico's timetable PDF (issue 19: "be ahead of Indico on every figure, the
PDF included"), on the same machine, in-process, interleaved, median of the rounds.

Each round starts a new process for each side and times, in it:
- the first render after the application is made (as a fresh worker's first PDF: our production
  start runs its warm-up, Indico's ``make_app()`` runs its own);
- the median of 7 renders after it (warm). Ours deletes the stored PDF before each, so every one is
  a render, not the stored bytes.
The event: 20 agenda items titled in Thai, Vietnamese and Chinese (bench/run.py's agenda figure);
in Indico a meeting with 20 contributions with the same titles in its timetable, rendered as its
"simplified" timetable export does (contributions listed at the conference level).

Indico is not a dependency of this project: install it apart (docs/performance.md says how), then

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_x   # filled by bench/run.py --only agenda
    INDICO_PYTHON=/work/indico-venv/bin/python INDICO_CONFIG=/work/indico-data/indico.conf \\
    INDICO_EVENT=4 .venv/bin/python bench/bench_indico_pdf.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OURS = r"""
import json, os, statistics, sys, tempfile, time
sys.path.insert(0, os.environ["ROOT"])
t0 = time.perf_counter()
from webinar_mgr import create_app
app = create_app()
started = time.perf_counter() - t0
import sqlalchemy as sa
from bench.run import clear_stored_pdfs
from webinar_mgr.events import pdf
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
def one():
    clear_stored_pdfs(app)
    with app.test_request_context():
        event = db.session.scalar(sa.select(Event).where(Event.title.like("Agenda PDF%")))
        t = time.perf_counter(); data = pdf.agenda_pdf(event); took = time.perf_counter() - t
        db.session.remove()
    return took, data
first, data = one()
warm = [one()[0] for _ in range(7)]
if len(sys.argv) > 1:
    open(sys.argv[1], "wb").write(data)
print(json.dumps(dict(first_ms=first * 1000, warm_ms=statistics.median(warm) * 1000, start_ms=started * 1000,
                      bytes=len(data))))
"""

INDICO = r"""
import json, os, statistics, sys, time
t0 = time.perf_counter()
from indico.web.flask.app import make_app
app = make_app()
started = time.perf_counter() - t0
with app.test_request_context():
    from indico.legacy.pdfinterface.conference import SimplifiedTimeTablePlain, TimetablePDFFormat
    from indico.modules.events.models.events import Event
    event = Event.get(int(os.environ["INDICO_EVENT"]))
    def render():
        fmt = TimetablePDFFormat()
        fmt.contribsAtConfLevel = True  # as RHTimetableExportPDF's simplified export
        fmt.breaksAtConfLevel = True
        t = time.perf_counter()
        data = SimplifiedTimeTablePlain(event, None, sortingCrit=None, ttPDFFormat=fmt, pagesize="A4").getPDFBin()
        return time.perf_counter() - t, data
    first, data = render()
    warm = [render()[0] for _ in range(7)]
if len(sys.argv) > 1:
    open(sys.argv[1], "wb").write(data)
print(json.dumps(dict(first_ms=first * 1000, warm_ms=statistics.median(warm) * 1000, start_ms=started * 1000,
                      bytes=len(data))))
"""


def run(python: str, code: str, env: dict, out: str) -> dict:
    proc = subprocess.run([python, "-c", code, out], env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", default="", help="a folder to keep the last round's two PDFs in")
    args = ap.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    indico = os.environ.get("INDICO_PYTHON")
    if not url or not indico or not os.environ.get("INDICO_CONFIG"):
        raise SystemExit("BENCH_DATABASE_URL, INDICO_PYTHON, INDICO_CONFIG and INDICO_EVENT are needed (the docstring)")
    keep = args.keep or tempfile.mkdtemp(prefix="bench_indico_")
    os.makedirs(keep, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "TEST_DATABASE"))}
    ours_env = dict(
        base,
        ROOT=str(ROOT),
        WEBINAR_ENV="production",
        SECRET_KEY="bench-indico-comparison-secret-key-0123456789",
        BASE_URL="http://127.0.0.1:5000",
        DATABASE_URL=url,
        INSTANCE_DIR=tempfile.mkdtemp(prefix="bench_indico_instance_"),
        PYTHONPATH=str(ROOT),
    )
    indico_env = dict(base, INDICO_EVENT=os.environ.get("INDICO_EVENT", "1"))
    rows: dict[str, list[dict]] = {"ours": [], "indico": []}
    for k in range(args.rounds):  # interleaved: ours, Indico, ours, Indico ...
        rows["ours"].append(run(sys.executable, OURS, ours_env, f"{keep}/ours.pdf"))
        rows["indico"].append(run(indico, INDICO, indico_env, f"{keep}/indico.pdf"))
        print(f"round {k + 1}: ours {rows['ours'][-1]}, Indico {rows['indico'][-1]}", flush=True)
    labels = (("warm_ms", "warm render"), ("first_ms", "first render in a new process"), ("start_ms", "app start"))
    for key, label in labels:
        ours = statistics.median(r[key] for r in rows["ours"])
        theirs = statistics.median(r[key] for r in rows["indico"])
        print(f"{label:32s} ours {ours:8.1f} ms   Indico {theirs:8.1f} ms   ours/Indico {ours / theirs:5.2f}")
    print(f"PDFs of the last round in {keep}")


if __name__ == "__main__":
    main()
