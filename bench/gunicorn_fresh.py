"""gunicorn settings for the bench's "first request in a fresh worker" figures (bench/run.py):
each worker serves one request (``--max-requests 1``) and, once it has loaded the app, writes a
file named by its pid into BENCH_READY_DIR holding the seconds it took from fork to ready (the
app's import and create_app, with any warm-up). The bench sends the timed request only when the
new worker is ready: the figure is the first request, and the worker's start is reported apart."""

import os
import time
from pathlib import Path


def post_fork(server, worker):
    worker.bench_forked_at = time.perf_counter()


def post_worker_init(worker):
    ready = os.environ.get("BENCH_READY_DIR")
    if ready:
        started = time.perf_counter() - getattr(worker, "bench_forked_at", time.perf_counter())
        tmp = Path(ready, f".{worker.pid}")
        tmp.write_text(f"{started:.6f}")
        tmp.rename(Path(ready, str(worker.pid)))
