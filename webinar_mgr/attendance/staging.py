"""A report waiting for confirmation, as it was read at upload: the report is parsed once.

The pending upload (``core.PendingUpload``, kind attendance) keeps in its ``meta`` the report's
description (format, zone, date order, warnings...) and a small cache of what the preview shows
(the counts, the effects of merging and replacing, each person's registration and whether they
join a row already there) with the state of the event it was computed for; each person, as the
parser merged them, is a row of ``attendance_staged_people`` (JSON: lists rather than objects, ISO
times). A view of the preview reads the cache and one page of people; the confirmation reads them
all. Nothing here touches the database: ``services`` does.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from . import parsers

FORMAT_VERSION = 2


def content_hash(data: bytes) -> str:
    """SHA-256 of the file as uploaded: the same file imported twice is recognised by it."""
    return hashlib.sha256(data).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def describe(report: parsers.ParsedReport) -> dict:
    """The report without its people."""
    return {
        "version": FORMAT_VERSION,
        "format": report.format,
        "rows_read": report.rows_read,
        "date_order": report.date_order,
        "timezone": report.timezone,
        "meta": dict(report.meta),
        "warnings": [str(w) for w in report.warnings],
    }


def report_of(description: dict) -> parsers.ParsedReport:
    """The report :func:`describe` described (its sessions are with its people)."""
    return parsers.ParsedReport(
        format=description["format"],
        sessions=[],
        rows_read=description["rows_read"],
        date_order=description["date_order"],
        timezone=description["timezone"],
        meta=dict(description.get("meta") or {}),
        warnings=list(description.get("warnings") or []),
    )


def dump_person(p: parsers.Person) -> list:
    """One person as :func:`parsers.merge_people` made them, with their sessions."""
    return [
        p.key,
        p.name,
        p.email,
        p.minutes,
        _iso(p.first_join),
        _iso(p.last_leave),
        sorted(p.roles),
        p.country,
        p.lines,
        [[_iso(s.join), _iso(s.leave), s.duration, s.role, s.line, s.country, s.name, s.email] for s in p.rows],
    ]


def load_person(entry: list) -> parsers.Person:
    """The person :func:`dump_person` wrote (nothing is computed again)."""
    key, name, email, minutes, first_join, last_leave, roles, country, lines, sessions = entry
    rows = [
        parsers.SessionRow(
            line=line,
            name=row_name,
            email=row_email,
            join=_when(join),
            leave=_when(leave),
            duration=duration,
            role=role,
            country=row_country,
        )
        for join, leave, duration, role, line, row_country, row_name, row_email in sessions
    ]
    return parsers.Person(
        key=key,
        name=name,
        email=email,
        minutes=minutes,
        first_join=_when(first_join),
        last_leave=_when(last_leave),
        sessions=[(r.join, r.leave, r.role, r.line) for r in rows],
        roles=set(roles),
        lines=list(lines),
        rows=rows,
        country=country,
    )


# Each person's match in the cache: one letter per person.
MATCH_CODES = {"email": "e", "name": "n", "unmatched": "u"}
CODE_MATCHES = {v: k for k, v in MATCH_CODES.items()}
