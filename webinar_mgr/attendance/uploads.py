"""Importing in two steps: upload (the report is read once, here), preview (paged), confirm.

At upload the report is parsed, merged and matched, the effects of merging and of replacing are
computed, and all of it is kept (``staging``): the people one row each, the preview's counts,
effects and each person's match in the pending upload's ``meta``, with a token of the event's
state they were computed for. A view of the preview reads that cache and one page of people; when
the event changed since (another import, a link, a new registration, the threshold), the view
computes the cache again from the kept people - never from the file - and keeps it. The
confirmation always plans again from the kept people and the event as it is, under the event's
lock, so what is saved is exact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import defer, lazyload, load_only

from webinar_mgr.core.models import PendingUpload
from webinar_mgr.errors import NotFound
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.registrations.models import Registration
from webinar_mgr.registrations.services import lock_event

from . import merging, parsers, services, staging
from .models import (
    MATCH_NONE,
    MODE_MERGE,
    MODE_REPLACE,
    AttendanceImport,
    AttendanceRecord,
    AttendanceSession,
    AttendanceStagedPerson,
)

UPLOAD_KIND = "attendance"
PAGE_SIZE = 100
_INSERT_BATCH = 2000


def get_pending(event: Event, upload_id: str, *, actor) -> PendingUpload:
    """The actor's upload for this event that waits for confirmation (uploads have text ids). The
    file itself is not loaded: what was read of it is kept with it."""
    upload = db.session.scalar(
        sa.select(PendingUpload).options(defer(PendingUpload.content)).where(PendingUpload.id == str(upload_id)[:32])
    )
    meta = (upload.meta or {}) if upload is not None else {}
    if (
        upload is None
        or upload.kind != UPLOAD_KIND
        or meta.get("event_id") != event.id
        or upload.owner_id != getattr(actor, "id", None)
        or (meta.get("report") or {}).get("version") != staging.FORMAT_VERSION
    ):
        raise NotFound(_("This upload is no longer waiting for confirmation: upload the file again."))
    return upload


def _discard(upload: PendingUpload) -> None:
    """The upload and its people (deleted here: SQLite does not cascade)."""
    db.session.execute(sa.delete(AttendanceStagedPerson).where(AttendanceStagedPerson.upload_id == upload.id))
    db.session.delete(upload)


# The event's state, for the cache -----------------------------------------------------------------


def state_token(event: Event) -> str:
    """A token that changes whenever anything a preview's numbers depend on changes: the event's
    attendance rows (matches, registrations, minutes), their sessions, its imports (undone or
    not), its registrations, and the threshold."""
    r = AttendanceRecord
    rows = db.session.execute(
        sa.select(
            sa.func.count(r.id),
            sa.func.max(r.id),
            sa.func.sum(r.session_count),
            sa.func.sum(r.minutes),
            sa.func.sum(sa.case((r.attended.is_(True), 1), else_=0)),
            sa.func.sum(sa.func.coalesce(r.registration_id, 0)),
            *(
                sa.func.sum(sa.case((r.match == m, 1), else_=0))
                for m in ("email", "name", "linked", "walk_in", "ignored")
            ),
        ).where(r.event_id == event.id)
    ).one()
    sessions = db.session.execute(
        sa.select(
            sa.func.count(AttendanceSession.id),
            sa.func.max(AttendanceSession.id),
            sa.func.count(AttendanceSession.removed_by_id),
        )
        .join(AttendanceImport, AttendanceImport.id == AttendanceSession.import_id)
        .where(AttendanceImport.event_id == event.id)
    ).one()
    imports = db.session.execute(
        sa.select(
            sa.func.count(AttendanceImport.id),
            sa.func.max(AttendanceImport.id),
            sa.func.count(AttendanceImport.undone_at),
        ).where(AttendanceImport.event_id == event.id)
    ).one()
    regs = db.session.execute(
        sa.select(
            sa.func.count(Registration.id), sa.func.max(Registration.id), sa.func.max(Registration.updated_at)
        ).where(Registration.event_id == event.id)
    ).one()
    text = repr((tuple(rows), tuple(sessions), tuple(imports), tuple(regs), event.attendance_threshold_minutes))
    return hashlib.sha256(text.encode()).hexdigest()


# Upload ------------------------------------------------------------------------------------------


@transactional
def stage_upload(
    event: Event, filename: str, data: bytes, tz: str | None = None, *, actor
) -> tuple[PendingUpload, services.Preview]:
    """Check and read the file (nothing is saved if it is bad) and keep what was read, and what the
    preview shows, in place of the actor's earlier upload for this event. The only parse."""
    report, people = services.read_report(event, data, tz)
    digest = staging.content_hash(data)
    preview = services.matched_preview(event, report, people, content_hash=digest)
    old = db.session.scalars(
        sa.select(PendingUpload)
        .options(defer(PendingUpload.content))
        .where(PendingUpload.kind == UPLOAD_KIND, PendingUpload.owner_id == getattr(actor, "id", None))
    ).all()
    for o in old:
        if (o.meta or {}).get("event_id") == event.id:
            _discard(o)
    upload = PendingUpload(
        kind=UPLOAD_KIND,
        owner_id=getattr(actor, "id", None),
        filename=(filename or "report.csv")[:255],
        content=data,
        meta={
            "event_id": event.id,
            "tz": report.timezone,
            "content_hash": digest,
            "report": staging.describe(report),
            "warnings": [str(w) for w in preview.warnings],
            "cache": _cache(event, preview),
        },
    )
    db.session.add(upload)
    db.session.flush()
    rows = [{"upload_id": upload.id, "position": n, "data": staging.dump_person(p)} for n, p in enumerate(people)]
    for i in range(0, len(rows), _INSERT_BATCH):
        db.session.execute(sa.insert(AttendanceStagedPerson), rows[i : i + _INSERT_BATCH])
    return upload, preview


def _cache(event: Event, preview: services.Preview) -> dict:
    """What a view of the preview shows that depends on the event: the counts, the effects of
    merging and (when there is something to replace) of replacing, and per person (one letter
    each) the match, the registration, whether they join a row already there."""
    token = state_token(event)
    records = services.record_states(event)
    merge = services.plan(event, preview, MODE_MERGE, records=records)
    earlier = services.current_import(event) is not None
    replace = services.plan(event, preview, MODE_REPLACE, records=records) if earlier else None
    return {
        "state": token,
        "summary": preview.summary(),
        "merge": merge.effect.as_dict(),
        "replace": replace.effect.as_dict() if replace else None,
        "matches": "".join(staging.MATCH_CODES.get(mp.match, "u") for mp in preview.people),
        "registrations": [mp.registration.id if mp.registration else None for mp in preview.people],
        "known": "".join("0" if key in merge.created else "1" for key in merge.targets),
    }


# Preview -----------------------------------------------------------------------------------------


def _staged(upload: PendingUpload, start: int = 0, count: int | None = None) -> list[parsers.Person]:
    stmt = (
        sa.select(AttendanceStagedPerson.data)
        .where(AttendanceStagedPerson.upload_id == upload.id, AttendanceStagedPerson.position >= start)
        .order_by(AttendanceStagedPerson.position)
    )
    if count is not None:
        stmt = stmt.limit(count)
    return [staging.load_person(entry) for entry in db.session.scalars(stmt)]


def preview_pending(event: Event, upload_id: str, *, actor) -> tuple[PendingUpload, services.Preview]:
    """The actor's pending upload and its whole preview, from the people kept at upload (the file
    is not parsed again), matched to the registrations as they are now."""
    upload = get_pending(event, upload_id, actor=actor)
    meta = upload.meta or {}
    report = staging.report_of(meta["report"])
    return upload, services.matched_preview(event, report, _staged(upload), content_hash=meta.get("content_hash"))


@dataclass
class PreviewPage:
    """One page of a preview's people, with the attributes the ``pager`` macro reads."""

    items: list[tuple[services.MatchedPerson, bool]]  # the person, and whether they join a row already there
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


@dataclass
class PendingPreview:
    """What the preview page shows: the report, its counts (``summary``) and warnings, what merging
    and replacing would change, why merging would change nothing (``refusal``), one page."""

    upload: PendingUpload
    report: parsers.ParsedReport
    summary: dict
    warnings: list[str]
    threshold: int
    merge: merging.Effect
    replace: merging.Effect | None
    refusal: services.AlreadyImported | None
    earlier: AttendanceImport | None
    page: PreviewPage
    content_hash: str | None = None
    recomputed: bool = field(default=False)  # the event had changed since the cache was made


def pending_preview(event: Event, upload_id: str, page: int = 1, *, actor, per_page: int = PAGE_SIZE) -> PendingPreview:
    """A view of the preview: the cache (made again from the kept people when the event changed
    since it was made) and one page of people."""
    upload = get_pending(event, upload_id, actor=actor)
    meta = upload.meta or {}
    cache, recomputed = meta.get("cache") or {}, False
    if cache.get("state") != state_token(event):
        cache, recomputed = _refresh(event, upload), True
        meta = upload.meta or {}
    total = len(cache["matches"])
    pages = max(1, -(-total // per_page))
    page = min(max(1, page or 1), pages)
    start = (page - 1) * per_page
    people = _staged(upload, start, per_page)
    reg_ids = [r for r in cache["registrations"][start : start + len(people)] if r is not None]
    regs = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Registration)
            .options(load_only(Registration.id, Registration.name, Registration.email), lazyload("*"))
            .where(Registration.id.in_(reg_ids))
        )
    }
    items = []
    for n, person in enumerate(people):
        at = start + n
        reg_id = cache["registrations"][at]
        match = staging.CODE_MATCHES.get(cache["matches"][at], MATCH_NONE)
        items.append((services.MatchedPerson(person, regs.get(reg_id), match), cache["known"][at] == "1"))
    merge = merging.Effect.from_dict(cache["merge"])
    report = staging.report_of(meta["report"])
    return PendingPreview(
        upload=upload,
        report=report,
        summary=cache["summary"],
        warnings=list(meta.get("warnings") or []),
        threshold=event.attendance_threshold_minutes,
        merge=merge,
        replace=merging.Effect.from_dict(cache["replace"]),
        refusal=services.refusal_of(event, merge, meta.get("content_hash")),
        earlier=services.current_import(event),
        page=PreviewPage(items, page, per_page, total),
        content_hash=meta.get("content_hash"),
        recomputed=recomputed,
    )


def _refresh(event: Event, upload: PendingUpload) -> dict:
    """The cache made again for the event as it is now, and kept with the upload."""
    meta = upload.meta or {}
    preview = services.matched_preview(
        event, staging.report_of(meta["report"]), _staged(upload), content_hash=meta.get("content_hash")
    )
    cache = _cache(event, preview)
    with unit_of_work():
        upload.meta = {**meta, "cache": cache, "warnings": [str(w) for w in preview.warnings]}
    return cache


# Confirm -----------------------------------------------------------------------------------------


@transactional
def confirm(event: Event, upload_id: str, mode: str = MODE_MERGE, *, actor) -> AttendanceImport:
    """All or nothing: the report is merged with the earlier imports (``mode`` "merge") or replaces
    them ("replace"), from what was read at upload; the pending upload goes."""
    lock_event(event.id)
    upload, preview = preview_pending(event, upload_id, actor=actor)
    imp = services.save_import(event, preview, upload.filename, mode, actor=actor)
    _discard(upload)
    return imp
