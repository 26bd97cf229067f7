"""Read-side queries of the public calendar feed (light rows, fingerprints, batches)."""

from __future__ import annotations

import sqlalchemy as sa

from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.extensions import db

from .models import STATUS_CANCELLED, STATUS_HELD, STATUS_SCHEDULED, Event


def feed_events() -> list[Event]:
    """Published, dated events for the subscribable calendar."""
    stmt = sa.select(Event).where(*_feed_filter()).order_by(Event.starts_at)
    return list(db.session.scalars(stmt))


def _feed_filter():
    return (
        Event.status.in_((STATUS_SCHEDULED, STATUS_HELD, STATUS_CANCELLED)),
        Event.starts_at.is_not(None),
        Event.ends_at.is_not(None),
    )


def feed_event_keys() -> list:
    """Light rows (no relationships) of the feed's events, in feed order."""
    return list(
        db.session.execute(
            sa.select(
                Event.id, Event.uid, Event.sequence, Event.status, Event.updated_at, Event.kind_id, Event.timezone
            )
            .where(*_feed_filter())
            .order_by(Event.starts_at)
        )
    )


def events_by_ids(ids: list[int]) -> list[Event]:
    out = []
    for n in range(0, len(ids), 500):
        out.extend(db.session.scalars(sa.select(Event).where(Event.id.in_(ids[n : n + 500]))).unique())
    return out


def feed_fingerprint() -> tuple:
    """Changes whenever anything in the public feed changes: every organiser change writes an
    audit entry in its own transaction, so the newest audit id moves with each of them; the
    event figures cover changes made without the audit log (demo data, imports)."""
    last_audit = db.session.scalar(sa.select(sa.func.max(AuditEntry.id)))
    row = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.max(Event.updated_at), sa.func.sum(Event.sequence), sa.func.sum(Event.id)
        ).where(*_feed_filter())
    ).one()
    return (str(last_audit), *(str(v) for v in row))
