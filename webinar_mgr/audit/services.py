"""The audit trail: services call :func:`record` inside the transaction that makes the change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from webinar_mgr.extensions import db

from .models import AuditEntry


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields that changed."""
    return {
        k: [_plain(before.get(k)), _plain(after.get(k))]
        for k in sorted(set(before) | set(after))
        if _plain(before.get(k)) != _plain(after.get(k))
    }


def record(
    actor,
    action: str,
    obj: Any = None,
    *,
    summary: str = "",
    changes: dict | None = None,
    object_type: str | None = None,
    object_id: Any = None,
) -> AuditEntry:
    """Add an audit entry to the current session (the caller commits)."""
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None),
        action=action,
        object_type=object_type or "-",
        object_id=None if object_id is None else str(object_id),
        summary=summary[:500],
        changes=_plain(changes) if changes else None,
    )
    db.session.add(entry)
    return entry


def search(
    *,
    object_type: str | None = None,
    object_id: Any = None,
    actor_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
):
    stmt = sa.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(AuditEntry.object_id == str(object_id))
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if actor:
        stmt = stmt.where(sa.func.lower(AuditEntry.actor_email).contains(actor.strip().lower(), autoescape=True))
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action.strip(), autoescape=True))
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
