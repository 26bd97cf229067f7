"""Personal calendar feeds: one secret address per email, listing the events the person is
registered for (subscribed once in a calendar app, it follows every registration)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy import orm
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from webinar_mgr import links
from webinar_mgr.directory import services as directory
from webinar_mgr.errors import NotFound
from webinar_mgr.events import ics
from webinar_mgr.events.models import STATUS_DRAFT, Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work

from .models import ACTIVE, CalendarFeed, Registration


def feed_for(email: str) -> CalendarFeed:
    email = directory.normalise_email(email)
    feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.email == email))
    if feed is None:  # created on first use, in its own unit of work when called from a page
        feed = CalendarFeed(email=email)
        try:
            with unit_of_work(), db.session.begin_nested():
                db.session.add(feed)
        except IntegrityError:  # created a moment ago by a parallel request
            feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.email == email))
    return feed


def ensure_feed(email: str) -> None:
    """Add the address's feed if it has none, in one statement of the caller's transaction (one
    that a parallel request adding it meanwhile does not fail): a registration brings its feed,
    so the pages and mails that offer it find it ready."""
    insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(CalendarFeed).values(email=directory.normalise_email(email)).on_conflict_do_nothing()
    db.session.execute(stmt)


def feed_url(email: str) -> str:
    return links.abs_url("registrations.calendar_feed", token=feed_for(email).token) or ""


def feed_by_token(token: str) -> bytes:
    feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.token == token)) if token else None
    if feed is None:
        raise NotFound(_("There is no calendar at this address."))
    events = (
        db.session.scalars(
            sa.select(Event)
            .options(orm.lazyload("*"))  # feed_ics serves stored entries (building missing ones itself)
            .join(Registration, Registration.event_id == Event.id)
            .where(
                Registration.email == feed.email,
                Registration.status.in_(ACTIVE),
                Event.starts_at.is_not(None),
                Event.status != STATUS_DRAFT,  # the visibility rule: drafts are for organisers only
            )
            .order_by(Event.starts_at)
        )
        .unique()
        .all()
    )
    return ics.feed_ics(events, name=_("My webinars"))
