"""Scheduled jobs run by ``flask worker`` before each delivery round (reminders and the like).

Modules add a callable returning a count with :func:`scheduled`; each job must be idempotent
(reminders use the outbox's dedupe keys), so a worker that was down simply catches up.

A job that can take long (building a ten-year activity report: 15-20 s) is marked
``alongside``: the worker runs it in a thread of its own beside the rounds (:class:`Alongside`),
so that the mail keeps going out while it works (issue 19: mail waited behind a long report).
Anywhere else (``flask worker --once``, cron, tests) every job runs in turn, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from webinar_mgr.extensions import db

log = logging.getLogger(__name__)

_JOBS: dict[str, Callable[[], int]] = {}
_ALONGSIDE: set[str] = set()


def scheduled(name: str, *, alongside: bool = False):
    def decorator(fn: Callable[[], int]):
        _JOBS[name] = fn
        if alongside:
            _ALONGSIDE.add(name)
        else:
            _ALONGSIDE.discard(name)
        return fn

    return decorator


def run_scheduled(alongside: Alongside | None = None) -> dict[str, int]:
    """Run every job once, in turn; with ``alongside`` (the polling worker's), the jobs marked
    so are started in their own thread instead, and counted in the round in which they end."""
    counts: dict[str, int] = {}
    for name, fn in _JOBS.items():
        if alongside is not None and name in _ALONGSIDE:
            counts.update(alongside.poll(name, fn))
        else:
            counts[name] = fn()
    return counts


class Alongside:
    """The worker's threads for the jobs that run beside its rounds: at most one run of each job
    at a time, each in its own application context (so its own database session)."""

    def __init__(self, app) -> None:
        self.app = app
        self._threads: dict[str, threading.Thread] = {}
        self._results: dict[str, int] = {}

    def poll(self, name: str, fn: Callable[[], int]) -> dict[str, int]:
        """The job's count if a run ended since the last round; a new run started if none is going."""
        ended: dict[str, int] = {}
        thread = self._threads.get(name)
        if thread is not None and not thread.is_alive():
            thread.join()
            ended[name] = self._results.pop(name, 0)
            thread = None
        if thread is None:
            thread = threading.Thread(target=self._run, args=(name, fn), name=f"job-{name}", daemon=True)
            self._threads[name] = thread
            thread.start()
        return ended

    def _run(self, name: str, fn: Callable[[], int]) -> None:
        with self.app.app_context():
            try:
                self._results[name] = fn()
            except Exception:  # a broken job must not stop the worker; the next round tries again
                db.session.rollback()
                log.exception("the scheduled job %s failed", name)
                self._results[name] = 0

    def running(self) -> list[str]:
        return [name for name, t in self._threads.items() if t.is_alive()]

    def wait(self, timeout: float | None = None) -> None:
        """Let the running jobs end (at most ``timeout`` seconds each). One still running when the
        worker exits is taken up again by a later worker (each such job says how)."""
        for thread in list(self._threads.values()):
            thread.join(timeout)
