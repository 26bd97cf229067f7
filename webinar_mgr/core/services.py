"""Small cross-cutting services of the core module."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from webinar_mgr.extensions import db

log = logging.getLogger(__name__)


def database_ok() -> bool:
    """True when the database answers a trivial query."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any database failure means "down"
        db.session.rollback()
        log.warning("health check: database unavailable: %s", exc)
        return False
    return True
