"""The directory's extension points (modules above it connect; the directory imports none of them).

``person_gaps``  sender = None, no kwargs. Asks every module that holds people (the directory's
                 contacts; registrations, attendance and commitments when they connect) for the
                 people who would be counted under no organisation, no sector or no member
                 government. A receiver returns a list of :class:`Gap` (empty when all is well).
                 ``flask directory check`` prints them all and the page "New organisations to
                 review" lists them with links, so the co-chairs' numbers can be made true.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from blinker import Namespace
from flask import has_request_context, url_for

from webinar_mgr import links

_signals = Namespace()

person_gaps = _signals.signal("person-gaps")


@dataclass(frozen=True)
class Gap:
    """One person (or organisation) that cannot be counted right, and where to fix it.

    ``kind``: what the row is ("contact", "organisation", "registration"...); ``id``: its id;
    ``label``: how a reader recognises it (a name and address); ``problem``: what is missing, in
    the reader's language; ``url``: the page that fixes it (see :func:`gap_url`), or None.
    """

    kind: str
    id: int
    label: str
    problem: str
    url: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def gap_url(endpoint: str, **values) -> str | None:
    """The address of the page that fixes a gap: relative on a page, absolute (BASE_URL) in a
    command, None when no module serves the endpoint."""
    if has_request_context():
        return url_for(endpoint, **values)
    return links.abs_url(endpoint, **values)


def collect_gaps() -> list[Gap]:
    """Every receiver's gaps, in the order the receivers were connected."""
    gaps: list[Gap] = []
    for _receiver, found in person_gaps.send(None):
        gaps.extend(found or [])
    return gaps
