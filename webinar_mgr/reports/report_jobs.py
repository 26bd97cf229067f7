"""Long reports built by the worker, with their progress (issue 19).

The activity report of a long period (ten years, 200 events) takes tens of seconds to lay out. A
request for one above :data:`BACKGROUND_AFTER_EVENTS` held events is queued as a
:class:`~webinar_mgr.reports.models.ReportJob`; ``flask worker`` builds one queued report per round
(:func:`build_queued`, a scheduled job), writing its progress as it goes; the page of the job
shows "being prepared: N %" and refreshes itself (a ``<meta http-equiv="refresh">``, no script)
until the file is offered. Shorter periods are built in the request, as before.

Only the person who asked, the co-chairs and the administrators may see a job and download its
file (:func:`can_see`). Files are kept :data:`KEEP_DAYS` days, then deleted with their row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from webinar_mgr import clock, jobs
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import NotFound
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.security import ADMINS, COCHAIR, has_role

from . import queries as q
from . import services
from .models import ReportJob
from .pdf import render_activity_report

KIND_ACTIVITY = "activity"
# Held events in the period above which the activity report is built in the background: one year
# (about 50 events) is built in the request in about a second; ten years (200) took 25 s.
BACKGROUND_AFTER_EVENTS = 60
KEEP_DAYS = 7
STALE_AFTER = timedelta(minutes=30)  # a "running" job older than this: its worker died; queued again


def in_background(start: date, end: date, *, now: datetime | None = None) -> bool:
    """True when the period's report is too long to build while the person waits (one query)."""
    return too_long(q.held_event_count(start, end, now or clock.now()))


def too_long(held_events: int) -> bool:
    """The size of an activity report is its number of held events (its tables, its charts and
    the member-by-event grid grow with it; registrations are counted in SQL)."""
    return held_events > current_app.config.get("REPORT_BACKGROUND_AFTER_EVENTS", BACKGROUND_AFTER_EVENTS)


def _parameters(start: date, end: date, last_n: int, language: str | None) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat(), "last": last_n, "language": language or ""}


def request_activity_report(start: date, end: date, last_n: int, *, language: str | None, actor) -> ReportJob:
    """Queue the period's activity report for ``actor`` (audited), or give back the one they
    already asked for with the same parameters (queued, running, or done and not expired)."""
    params = _parameters(start, end, last_n, language)
    now = clock.now()
    with unit_of_work():
        mine = db.session.scalars(
            sa.select(ReportJob)
            .where(
                ReportJob.kind == KIND_ACTIVITY,
                ReportJob.requested_by_id == actor.id,
                ReportJob.status.in_(("queued", "running", "done")),
            )
            .order_by(ReportJob.id.desc())
        ).all()
        for job in mine:
            if job.parameters == params and (job.expires_at is None or job.expires_at > now):
                return job
        job = ReportJob(
            kind=KIND_ACTIVITY,
            parameters=params,
            requested_by_id=actor.id,
            status="queued",
            progress=0,
            message="",
            filename=f"activity-report-{start.isoformat()}-{end.isoformat()}.pdf",
            created_at=now,
        )
        db.session.add(job)
        db.session.flush()
        audit.record(
            actor,
            "report.requested",
            job,
            summary=f"Activity report {start.isoformat()} to {end.isoformat()} (built in the background)",
        )
    return job


def can_see(job: ReportJob, user) -> bool:
    return (job.requested_by_id is not None and job.requested_by_id == getattr(user, "id", None)) or has_role(
        user, COCHAIR, *ADMINS
    )


def job_for(job_id: int, user) -> ReportJob:
    """The job, for someone allowed to see it; anyone else is told there is none (404)."""
    job = db.session.get(ReportJob, job_id)
    if job is None or not can_see(job, user) or (job.expires_at is not None and job.expires_at <= clock.now()):
        raise NotFound(_("There is no such report: it may have expired. Ask for it again."))
    return job


def file_of(job: ReportJob) -> bytes:
    content = db.session.scalar(sa.select(ReportJob.content).where(ReportJob.id == job.id))
    if job.status != "done" or content is None:
        raise NotFound(_("The report is not ready yet."))
    return content


# The worker -----------------------------------------------------------------------------------


def _set_progress(job_id: int, progress: int) -> None:
    with unit_of_work():
        db.session.execute(sa.update(ReportJob).where(ReportJob.id == job_id).values(progress=progress))


def _claim() -> int | None:
    """Take the oldest queued job (a conditional UPDATE: two workers never build the same one)."""
    now = clock.now()
    with unit_of_work():
        # A job left "running" by a worker that died is queued again.
        db.session.execute(
            sa.update(ReportJob)
            .where(ReportJob.status == "running", ReportJob.started_at < now - STALE_AFTER)
            .values(status="queued", progress=0)
        )
        job_id = db.session.scalar(
            sa.select(ReportJob.id).where(ReportJob.status == "queued").order_by(ReportJob.id).limit(1)
        )
        if job_id is None:
            return None
        claimed = db.session.execute(
            sa.update(ReportJob)
            .where(ReportJob.id == job_id, ReportJob.status == "queued")
            .values(status="running", started_at=now, progress=1)
        ).rowcount
    return job_id if claimed else None


def build(job_id: int) -> None:
    """Build one claimed job, writing its progress; it ends done (the file kept) or failed."""
    job = db.session.get(ReportJob, job_id)
    if job is None:  # deleted (expired, or by hand) since it was claimed
        return
    params = dict(job.parameters)
    # The progress is committed as the build goes on; the report's rows must not be expired by
    # those commits (reloading 200 events one by one in the template).
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        with in_language(params.get("language")):
            start, end = services.parse_period(params["from"], params["to"])
            report = services.activity_report(start, end, last_n=int(params.get("last") or services.DEFAULT_LAST_N))
            _set_progress(job_id, 20)
            content = render_activity_report(report, progress=lambda p: _set_progress(job_id, p))
    except Exception as exc:  # noqa: BLE001 - any failure is the job's, told on its page; the worker goes on
        db.session.rollback()
        current_app.logger.exception("report job %s failed", job_id)
        with unit_of_work():
            db.session.execute(
                sa.update(ReportJob)
                .where(ReportJob.id == job_id)
                .values(status="failed", finished_at=clock.now(), message=str(exc)[:500])
            )
        return
    finally:
        session.expire_on_commit = expire_on_commit
    now = clock.now()
    with unit_of_work():
        db.session.execute(
            sa.update(ReportJob)
            .where(ReportJob.id == job_id)
            .values(
                status="done",
                progress=100,
                content=content,
                finished_at=now,
                expires_at=now + timedelta(days=KEEP_DAYS),
            )
        )


def purge_expired() -> int:
    with unit_of_work():
        return db.session.execute(sa.delete(ReportJob).where(ReportJob.expires_at <= clock.now())).rowcount


@jobs.scheduled("report_jobs", alongside=True)
def build_queued() -> int:
    """Purge expired files, build at most one queued report. The polling worker runs this beside
    its delivery rounds (jobs.Alongside), so the mail does not wait for a long report."""
    purge_expired()
    job_id = _claim()
    if job_id is None:
        return 0
    build(job_id)
    return 1
