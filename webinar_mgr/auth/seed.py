"""Demo accounts, linked to their organisations in the demo directory.

Runs after the directory seed (the seeds run in the order of ``layers.MODULES``): each account
gets its organisation and position, and a directory contact of its own. Idempotent.
"""

import sqlalchemy as sa

from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.extensions import db
from webinar_mgr.security import ADMIN, COCHAIR, ORGANISER, PARTICIPANT

from . import services
from .models import User

DEMO_PASSWORD = "demo-password"
ACCOUNTS = [
    ("admin@example.org", "Ada Admin", [ADMIN, ORGANISER], "Asia/Bangkok"),
    ("organiser@example.org", "Olivia Organiser", [ORGANISER], "Asia/Bangkok"),
    ("cochair@example.org", "Chris Co-chair", [COCHAIR], "Australia/Sydney"),
    ("participant@example.org", "Pat Participant", [PARTICIPANT], "Pacific/Fiji"),
]

# Demo account -> organisation (in the directory seed) and position.
ACCOUNT_LINKS = {
    "admin@example.org": ("Regional Support Office", "System administrator"),
    "organiser@example.org": ("Regional Support Office", "Events Coordinator"),
    "cochair@example.org": ("Australia", "Co-Chair representative"),
    "participant@example.org": ("Fiji", "Senior Policy Officer"),
}


def seed(echo) -> None:
    services.ensure_roles()
    created = 0
    for email, name, roles, tz in ACCOUNTS:
        if db.session.scalar(sa.select(User.id).where(User.email == email)):
            continue
        services.create_user(email=email, name=name, password=DEMO_PASSWORD, roles=roles, timezone=tz)
        created += 1
    linked, contacts = _link_accounts()
    echo(f"accounts: {created} created, {linked} linked to organisations, {contacts} directory contacts added")


def _link_accounts() -> tuple[int, int]:
    """Give each demo account its organisation and position, and a directory contact."""
    orgs = {
        o.name: o
        for o in db.session.scalars(
            sa.select(Organisation).where(Organisation.name.in_({o for o, _p in ACCOUNT_LINKS.values()}))
        )
    }
    linked = contacts = 0
    for email, (org_name, position) in ACCOUNT_LINKS.items():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        org = orgs.get(org_name)
        if user is None or org is None:
            continue
        if user.organisation_id is None:
            user.organisation_id = org.id
            user.position = user.position or position
            linked += 1
        if db.session.scalar(sa.select(Contact.id).where(Contact.email == email)) is None:
            db.session.add(
                Contact(
                    name=user.name,
                    email=email,
                    organisation_id=user.organisation_id or org.id,
                    position=user.position or position,
                    timezone=user.timezone,
                )
            )
            contacts += 1
    db.session.flush()
    return linked, contacts
