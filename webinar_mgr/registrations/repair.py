"""The repair path of issue 11 for registrations: stored registrations that would be counted under
no organisation, sector or member government are listed (``directory.signals.person_gaps``, shown
by ``flask directory check`` and the directory's review page) and, where the data allows, repaired
(``flask registrations repair``)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from webinar_mgr.audit import services as audit
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTOR_MEMBER
from webinar_mgr.directory.signals import Gap, gap_url, person_gaps
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional

from .models import ACTIVE, Registration
from .services import organisation_fields


def _missing_clause():
    """Registrations that would be counted under no organisation, no sector, or (for a government
    agency or a member government) no member government."""
    return sa.or_(
        Registration.organisation_id.is_(None),
        Registration.sector.is_(None),
        sa.and_(Registration.sector == SECTOR_MEMBER, Registration.member_government_id.is_(None)),
    )


def registrations_with_gaps(limit: int = 500) -> list[Registration]:
    """Registrations (not cancelled or refused) missing their organisation, sector or member
    government, oldest event first."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.status.in_(ACTIVE), _missing_clause())
            .order_by(Registration.event_id, Registration.id)
            .limit(limit)
        ).unique()
    )


@dataclass
class RepairReport:
    derived: int = 0  # sector or member government taken from the registration's organisation
    resolved: int = 0  # a typed organisation name turned into the organisation (new ones for review)
    left: int = 0  # still without an organisation: only the person (or an organiser) can say


@transactional
def repair_people(*, actor=None) -> RepairReport:
    """Make stored registrations count right: take the sector and member government from the
    registration's organisation where they were not recorded, and turn an organisation name typed
    before the directory knew it into that organisation (created for review when new, its sector
    guessed from the name). Registrations with nothing to go on are left and reported."""
    report = RepairReport()
    for reg in db.session.scalars(sa.select(Registration).where(_missing_clause())).unique():
        org = reg.organisation
        if org is None and reg.organisation_name:
            org = directory.resolve_organisation(
                directory.OrganisationChoice(name=reg.organisation_name),
                added_via="registration",
                infer=True,
                actor=actor,
            )
            report.resolved += 1
        elif org is not None:
            report.derived += 1
        if org is None:
            report.left += reg.status in ACTIVE
            continue
        for attr, value in organisation_fields(org).items():
            setattr(reg, attr, value)
        directory.get_or_create_contact(reg.email, reg.name, organisation=org, actor=actor)
    if report.derived or report.resolved:
        audit.record(
            actor,
            "registration.repair",
            object_type="Registration",
            summary=f"{report.derived} derived · {report.resolved} resolved · {report.left} left",
        )
    return report


@person_gaps.connect
def _registration_gaps(_sender, **_kwargs) -> list[Gap]:
    gaps = []
    for reg in registrations_with_gaps():
        if reg.organisation_id is None:
            problem = _("no organisation")
        elif reg.sector is None:
            problem = _("no sector")
        else:
            problem = _("no member government")
        gaps.append(
            Gap(
                kind="registration",
                id=reg.id,
                label=f"{reg.name} <{reg.email}> · {reg.event.title}",
                problem=problem,
                url=gap_url("registrations.registrants", event_id=reg.event_id, q=reg.email),
            )
        )
    return gaps
