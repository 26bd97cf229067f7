"""The one source of "now" in the app, so tests can move time without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    """Current time, aware, in UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def freeze(at: datetime) -> None:
    """Stop the clock at ``at`` (tests only)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(UTC)


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (tests only)."""
    global _frozen
    if _frozen is None:
        freeze(datetime.now(UTC))
    _frozen = _frozen + delta  # type: ignore[operator]
    return _frozen


def unfreeze() -> None:
    global _frozen
    _frozen = None
