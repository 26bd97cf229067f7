"""Scheduled jobs run by ``flask worker`` before each delivery round (reminders and the like).

Modules add a callable returning a count with :func:`scheduled`; each job must be idempotent
(reminders use the outbox's dedupe keys), so a worker that was down simply catches up.
"""

from __future__ import annotations

from collections.abc import Callable

_JOBS: dict[str, Callable[[], int]] = {}


def scheduled(name: str):
    def decorator(fn: Callable[[], int]):
        _JOBS[name] = fn
        return fn

    return decorator


def run_scheduled() -> dict[str, int]:
    return {name: fn() for name, fn in _JOBS.items()}
