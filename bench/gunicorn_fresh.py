"""gunicorn settings for the bench's "first request in a fresh worker" figures (bench/run.py):
each worker serves one request (``--max-requests 1``) and, once it has loaded the app, writes its
pid into BENCH_READY_DIR, so the bench sends the timed request only when the new worker is ready
(the figure is the first request, not the worker's start)."""

import os
from pathlib import Path


def post_worker_init(worker):
    ready = os.environ.get("BENCH_READY_DIR")
    if ready:
        Path(ready, str(worker.pid)).touch()
