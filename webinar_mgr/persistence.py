"""The one unit-of-work rule, and reading one row or failing with a clear 404.

A service that changes data runs its work inside ``unit_of_work()`` (or is decorated with
``@transactional``): the block commits once when it ends, or rolls back once and re-raises when
anything inside fails, so nothing is ever half-saved. The audit entry and the outbox mail of a
change are written inside the same block, so they land with the change or not at all.

Units nest: only the outermost one commits or rolls back. A service that calls another service
(``organiser_action`` calling ``cancel``) therefore makes one transaction, not two.

Views never commit. Reads need no unit of work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import g, has_app_context
from flask_babel import gettext as _

from .errors import NotFound
from .extensions import db

T = TypeVar("T")
_DEPTH = "webinar_mgr.uow_depth"


@contextmanager
def unit_of_work() -> Iterator[Any]:
    """Commit once on success, roll back once on any exception (then re-raise)."""
    session = db.session
    info = session.info
    depth = info.get(_DEPTH, 0)
    info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            _commit(session)
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        info[_DEPTH] = depth


def _commit(session) -> None:
    """Commit, and note for this request whether a unit was saved (``g.unit_saved``) or its commit
    failed half-way (``g.commit_uncertain``: the database may or may not have it), so that an error
    page shown afterwards (a database restarting) tells the truth about what was saved."""
    try:
        session.commit()
    except BaseException:
        if has_app_context():
            g.commit_uncertain = True
        raise
    if has_app_context():
        g.unit_saved = True


def transactional(fn: Callable[..., T]) -> Callable[..., T]:
    """Run the decorated service function as one unit of work."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with unit_of_work():
            return fn(*args, **kwargs)

    return wrapper


def get_or_404(model: type[T], ident: Any, message: str | None = None) -> T:
    """The row of ``model`` with primary key ``ident``, or NotFound (a 404 page, or the message
    next to a form) with ``message`` or a plain default. Ids that are not whole numbers are not
    found either, rather than a database error."""
    row = db.session.get(model, ident) if isinstance(ident, int) and not isinstance(ident, bool) else None
    if row is None:
        raise NotFound(message or _("There is nothing at this address: it may have been deleted."))
    return row
