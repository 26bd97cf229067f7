import logging
import signal
import threading

import click
from flask import Flask

from webinar_mgr import jobs
from webinar_mgr.extensions import db

from . import services

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Deliver what is due, then exit (for cron).")
    @click.option("--interval", type=float, default=None, help="Seconds between polls (default: WORKER_POLL_SECONDS).")
    @click.option("--batch", type=int, default=200, show_default=True, help="Messages per round.")
    @click.option("--rounds", type=int, default=None, help="Stop after this many rounds (default: run until stopped).")
    def worker(once: bool, interval: float | None, batch: int, rounds: int | None) -> None:
        """Deliver the mail outbox (and run the scheduled jobs) over SMTP, with retries.

        Without --once it keeps polling; SIGTERM or Ctrl-C stops it after the current message."""
        pause = interval if interval is not None else app.config["WORKER_POLL_SECONDS"]
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        done = 0
        try:
            while not stop.is_set():
                try:
                    scheduled = jobs.run_scheduled()
                except Exception:  # a broken job must not stop mail delivery
                    db.session.rollback()
                    log.exception("a scheduled job failed; delivering mail anyway")
                    scheduled = {}
                counts = services.deliver_due(batch)
                done += 1
                if once or any(counts.values()) or any(scheduled.values()):
                    click.echo(
                        f"sent={counts['sent']} retry={counts['retry']} failed={counts['failed']}"
                        + "".join(f" {k}={v}" for k, v in scheduled.items())
                    )
                if once or (rounds is not None and done >= rounds):
                    return
                if counts["sent"] + counts["retry"] + counts["failed"] < batch:
                    stop.wait(pause)
        except KeyboardInterrupt:
            pass
        click.echo("worker stopped")
