"""Demo accounts."""

import sqlalchemy as sa

from webinar_mgr.extensions import db

from . import services
from .models import User

DEMO_PASSWORD = "demo-password"
ACCOUNTS = [
    ("admin@example.org", "Ada Admin", ["admin", "organiser"], "Asia/Bangkok"),
    ("organiser@example.org", "Olivia Organiser", ["organiser"], "Asia/Bangkok"),
    ("cochair@example.org", "Chris Co-chair", ["cochair"], "Australia/Sydney"),
    ("participant@example.org", "Pat Participant", ["participant"], "Pacific/Fiji"),
]


def seed(echo) -> None:
    services.ensure_roles()
    created = 0
    for email, name, roles, tz in ACCOUNTS:
        if db.session.scalar(sa.select(User.id).where(User.email == email)):
            continue
        services.create_user(email=email, name=name, password=DEMO_PASSWORD, roles=roles, timezone=tz)
        created += 1
    echo(f"accounts: {created} created")
