import time

import click
from flask import Flask

from . import services


def register(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Deliver what is due, then exit (for cron).")
    @click.option("--interval", type=float, default=None, help="Seconds between polls.")
    @click.option("--batch", type=int, default=200, show_default=True)
    def worker(once: bool, interval: float | None, batch: int) -> None:
        """Deliver the mail outbox (and run the scheduled jobs) over SMTP, with retries."""
        from webinar_mgr import jobs

        pause = interval if interval is not None else app.config["WORKER_POLL_SECONDS"]
        while True:
            scheduled = jobs.run_scheduled()
            counts = services.deliver_due(batch)
            if once or any(counts.values()) or any(scheduled.values()):
                click.echo(
                    f"sent={counts['sent']} retry={counts['retry']} failed={counts['failed']}"
                    + "".join(f" {k}={v}" for k, v in scheduled.items())
                )
            if once:
                return
            if counts["sent"] + counts["retry"] + counts["failed"] < batch:
                time.sleep(pause)
