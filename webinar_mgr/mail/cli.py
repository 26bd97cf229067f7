import logging
import signal
import threading
from datetime import UTC, datetime

import click
from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError

from webinar_mgr import jobs
from webinar_mgr.errors import DomainError
from webinar_mgr.extensions import db

from . import services

log = logging.getLogger(__name__)

# How long a stopping worker waits for a job running beside its rounds; one that is still running
# then is taken up again by the next worker (a report job is queued again after STALE_AFTER).
STOP_WAIT = 30.0


def register(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Deliver what is due, then exit (for cron).")
    @click.option("--interval", type=float, default=None, help="Seconds between polls (default: WORKER_POLL_SECONDS).")
    @click.option(
        "--batch",
        type=click.IntRange(min=1),
        default=None,
        help="Messages claimed at a time (default: MAIL_BATCH_SIZE, 20).",
    )
    @click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True, help="Messages per round.")
    @click.option("--rounds", type=int, default=None, help="Stop after this many rounds (default: run until stopped).")
    def worker(once: bool, interval: float | None, batch: int | None, limit: int, rounds: int | None) -> None:
        """Deliver the mail outbox (and run the scheduled jobs) over SMTP, with retries.

        Without --once it keeps polling; SIGTERM or Ctrl-C stops it after the current message.
        Several workers (or cron runs) may overlap: each claims its own messages."""
        pause = interval if interval is not None else app.config["WORKER_POLL_SECONDS"]
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        done = 0
        # the long jobs (a ten-year activity report) run beside the rounds, not in them: the mail
        # keeps going out meanwhile; with --once every job runs in turn (cron waits for them)
        alongside = None if once else jobs.Alongside(app)
        try:
            while not stop.is_set():
                try:
                    scheduled = jobs.run_scheduled(alongside)
                except Exception:  # a broken job must not stop mail delivery
                    db.session.rollback()
                    log.exception("a scheduled job failed; delivering mail anyway")
                    scheduled = {}
                try:
                    counts = services.deliver_due(limit, batch=batch)
                    services.record_worker_round()
                except (OperationalError, InterfaceError) as exc:  # the database restarting: wait, then reconnect
                    db.session.rollback()
                    log.warning("the database did not answer (%s); the worker tries again", type(exc).__name__)
                    if once:
                        raise click.ClickException("The database did not answer; nothing is lost: run again.") from None
                    stop.wait(pause)
                    continue
                done += 1
                if once or any(counts.values()) or any(scheduled.values()):
                    click.echo(
                        f"sent={counts['sent']} retry={counts['retry']} failed={counts['failed']}"
                        + (f" skipped={counts['skipped']}" if counts["skipped"] else "")
                        + "".join(f" {k}={v}" for k, v in scheduled.items())
                    )
                if once or (rounds is not None and done >= rounds):
                    return
                if sum(counts.values()) < limit:
                    stop.wait(pause)
        except KeyboardInterrupt:
            pass
        finally:
            if alongside is not None and alongside.running():
                click.echo(f"waiting for {', '.join(alongside.running())} (at most {STOP_WAIT:.0f} s)")
                alongside.wait(STOP_WAIT)
        click.echo("worker stopped")

    group = click.Group("mail", help="The mail outbox.")

    @group.command("retry")
    @click.option("--failed", is_flag=True, help="Queue the failed messages again (required: says what to retry).")
    @click.option(
        "--since",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Only messages whose last attempt ended on or after this day (YYYY-MM-DD, from 00:00 UTC).",
    )
    def retry(failed: bool, since: datetime | None) -> None:
        """Put failed messages back in the queue (e.g. after an SMTP outage); audited."""
        if not failed:
            raise click.UsageError("Say which messages to retry: --failed (optionally with --since YYYY-MM-DD).")
        start = since.replace(tzinfo=UTC) if since else None
        try:
            count = services.retry_failed(since=start, actor=None)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        noun = "message" if count == 1 else "messages"
        where = f" (last attempt since {start:%Y-%m-%d %H:%M} UTC)" if start else ""
        click.echo(f"{count} failed {noun} queued again{where}; `flask worker` delivers them.")

    app.cli.add_command(group)
