"""Merging an import into what an event already has, replacing it, and undoing an import.

Pure functions on plain states (no database): ``services`` loads the event's rows and their
active sessions as :class:`RecordState`, asks for a :class:`Plan` and either shows its
:class:`Effect` (the preview: nothing is written) or writes it (the confirm), so the numbers a
preview announces are the numbers the import has.

The rules:

* One row per person and event. An incoming person joins the row with the same key (email, else
  normalised name), else the row with the same email, else the row of the registration the person
  matched; otherwise a new row.
* A row's minutes are the union of its active sessions, whichever imports they came from: the same
  session read twice (same join and leave) counts once, overlaps count once. Sessions without both
  times (a duration only) cannot be compared across reports: the largest total one import gives is
  used.
* Merge adds; replace removes the active sessions of every row nobody linked by hand (linked and
  walk-in rows keep theirs: an organiser's decision is never undone by an import); check-ins are
  separate rows and never touched.
* Undo takes an import's sessions away and gives back the sessions its replace removed.
* A row without active sessions is kept (its decision and registration survive, and an import that
  lists the person again brings it back) but neither shown nor counted, unless an organiser linked
  it by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from flask_babel import gettext as _

from .models import MANUAL_MATCHES, MATCH_IGNORED, MATCH_NONE, SOURCE_CHECKIN, SOURCE_IMPORT
from .parsers import SessionRow, last_country, union_seconds

NEW = None  # the import_id of the incoming import's sessions


@dataclass(frozen=True)
class SessionState:
    """One session of a row: its times, the duration written when it has no times, its import."""

    join: datetime | None
    leave: datetime | None
    duration: float | None
    import_id: int | None  # NEW for the incoming import
    country: str | None = None
    id: int | None = None  # None until written
    role: str = "attendee"
    line: int = 0

    @property
    def timed(self) -> bool:
        return self.join is not None and self.leave is not None

    @property
    def identity(self) -> tuple:
        return identity(self)


def identity(s) -> tuple:
    """Two sessions (``SessionState`` or ``parsers.SessionRow``) with the same identity are the
    same presence read twice: the same join and leave, or, without both, the same duration too."""
    if s.join is not None and s.leave is not None:
        return (s.join, s.leave, None)
    return (s.join, s.leave, s.duration)


@dataclass
class RecordState:
    """One attendance row as the plan sees it (``id`` None for a row the plan creates)."""

    id: int | None
    source: str
    person_key: str | None
    name: str
    email: str | None
    registration_id: int | None
    match: str
    sessions: list[SessionState] = field(default_factory=list)  # the active ones
    # A row the plan creates for one incoming person keeps that person's sessions in the plan's
    # ``add`` only (``pending`` counts them) and takes their minutes as the parser computed them.
    pending: int = 0
    minutes: int = 0
    attended: bool = False
    first_join: datetime | None = None
    last_leave: datetime | None = None
    country: str | None = None

    @property
    def manual(self) -> bool:
        return self.match in MANUAL_MATCHES

    @property
    def shown(self) -> bool:
        """Listed and counted (see the module's rules)."""
        return self.source == SOURCE_CHECKIN or bool(self.sessions) or self.pending > 0 or self.manual

    @property
    def session_count(self) -> int:
        return len(self.sessions) + self.pending

    @property
    def person(self) -> bool:
        """A person of the reports (not a check-in, not ignored) that is shown."""
        return self.source == SOURCE_IMPORT and self.shown and self.match != MATCH_IGNORED

    def measured(self, threshold: int) -> RecordState:
        """A copy with minutes, first join, last leave, country and attended computed from its
        active sessions (a check-in keeps its own)."""
        if self.source == SOURCE_CHECKIN:
            return replace(self)
        minutes, first, last = measure(self.sessions)
        country = last_country(self.sessions)
        return replace(
            self,
            minutes=minutes,
            first_join=first,
            last_leave=last,
            country=country or self.country,
            attended=bool(self.sessions) and self.match != MATCH_IGNORED and minutes >= threshold,
        )


def measure(sessions: Iterable[SessionState]) -> tuple[int, datetime | None, datetime | None]:
    """(minutes, first join, last leave) of a set of sessions: the union of the distinct timed
    sessions, plus the largest total of untimed durations that one import gives."""
    sessions = list(sessions)
    timed = {(s.join, s.leave) for s in sessions if s.timed}
    seconds = union_seconds(sorted(timed))
    untimed: dict[int | None, float] = {}
    for s in sessions:
        if not s.timed and s.duration:
            untimed[s.import_id] = untimed.get(s.import_id, 0.0) + s.duration * 60
    seconds += max(untimed.values(), default=0.0)
    joins = [s.join for s in sessions if s.join]
    leaves = [s.leave for s in sessions if s.leave]
    return int(seconds / 60 + 0.5), min(joins, default=None), max(leaves, default=None)


def attended_people(records: Iterable[RecordState]) -> int:
    """People counted as attended at the event: each registration with an attended row (report or
    check-in) once, and each attended report row not yet linked to a registration."""
    people: set[tuple[str, int | str]] = set()
    for r in records:
        if not (r.attended and r.shown):
            continue
        if r.registration_id is not None:
            people.add(("registration", r.registration_id))
        elif r.source == SOURCE_IMPORT and r.match != MATCH_IGNORED:
            people.add(("row", r.id if r.id is not None else id(r)))
    return len(people)


def attended_registrations(records: Iterable[RecordState]) -> int:
    """Registrations with an attended row: the number the co-chairs' review counts."""
    return len({r.registration_id for r in records if r.attended and r.shown and r.registration_id is not None})


@dataclass
class Effect:
    """What an import (or an undo) changes for the event."""

    attended_before: int
    attended_after: int
    registrations_before: int
    registrations_after: int
    new: int  # people listed after and not before
    removed: int  # people listed before and not after
    sessions_added: int = 0  # incoming sessions not already there
    sessions_known: int = 0  # incoming sessions already there (same person, same times)
    sessions_removed: int = 0  # sessions a replace or an undo takes away
    to_resolve: int = 0  # people after the change that match no registration
    rematched: int = 0  # rows already there that the import matches to a registration

    def line(self) -> str:
        """ "attended 26 -> 29; 3 new, 0 removed" (the preview, the list of imports, the CLI)."""
        return _(
            "attended %(before)d -> %(after)d; %(new)d new, %(removed)d removed",
            before=self.attended_before,
            after=self.attended_after,
            new=self.new,
            removed=self.removed,
        )

    @property
    def changes_nothing(self) -> bool:
        """Nothing new: every incoming session was already there, nobody added, removed or matched."""
        return not (self.sessions_added or self.sessions_removed or self.new or self.removed or self.rematched)

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict | None) -> Effect | None:
        if not data:
            return None
        known = {k: int(data.get(k) or 0) for k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Incoming:
    """One person of the incoming report with the registration matching found (or None)."""

    key: str
    name: str
    email: str | None
    registration_id: int | None
    match: str
    sessions: list[SessionRow]
    # As the parser computed them from ``sessions``.
    minutes: int = 0
    first_join: datetime | None = None
    last_leave: datetime | None = None
    country: str | None = None


def _state(s: SessionRow) -> SessionState:
    return SessionState(
        join=s.join, leave=s.leave, duration=s.duration, import_id=NEW, country=s.country, role=s.role, line=s.line
    )


@dataclass
class Plan:
    """The rows after the change (``after``, by row id or a negative number for a new row), which
    incoming person goes to which row, the sessions to add per row and the sessions to remove."""

    before: dict[int, RecordState]
    after: dict[int, RecordState]
    targets: list[int]  # per incoming person, the row it joins
    created: set[int]
    add: dict[int, list]  # SessionState or parsers.SessionRow: join, leave, duration, role, line, country
    removed_sessions: list[int]  # ids of sessions a replace removes
    restored_sessions: list[int]  # ids of sessions an undo gives back
    effect: Effect
    changed: set[int]  # the rows the plan writes (new ones included)

    @property
    def touched(self) -> list[int]:
        return [k for k in self.after if k in self.changed]


def plan_import(records: list[RecordState], incoming: list[Incoming], *, mode: str, threshold: int) -> Plan:
    """The plan of merging (``mode`` "merge") or replacing (``mode`` "replace") with ``incoming``.
    Rows are copied only when the plan changes them (an event may have thousands)."""
    before = {r.id: r for r in records}
    after = dict(before)
    changed: set[int] = set()

    def edit(key: int) -> RecordState:
        if key not in changed:
            after[key] = replace(after[key], sessions=list(after[key].sessions))
            changed.add(key)
        return after[key]

    removed: list[int] = []
    if mode == "replace":
        for key, r in before.items():
            if r.source == SOURCE_IMPORT and not r.manual and r.sessions:
                removed.extend(s.id for s in r.sessions if s.id is not None)
                edit(key).sessions = []
    index = _Index(before.values())
    add: dict[int, list] = {}
    targets: list[int] = []
    created: set[int] = set()
    fresh: dict[int, Incoming] = {}  # rows created for one person, their sessions not materialised
    known = 0
    for n, person in enumerate(incoming):
        key = index.find(person)
        if key is None:  # the common case for a big report: a new row, as the parser read the person
            key = -(n + 1)
            after[key] = RecordState(
                id=None,
                source=SOURCE_IMPORT,
                person_key=person.key,
                name=person.name,
                email=person.email,
                registration_id=person.registration_id,
                match=person.match,
                pending=len(person.sessions),
                minutes=person.minutes,
                first_join=person.first_join,
                last_leave=person.last_leave,
                country=person.country,
                attended=bool(person.sessions) and person.minutes >= threshold,
            )
            created.add(key)
            changed.add(key)
            fresh[key] = person
            add[key] = list(person.sessions)
            index.add(key, after[key])
            targets.append(key)
            continue
        row = edit(key)
        if key in fresh:  # a second person joins a row this plan created: count its sessions now
            first = fresh.pop(key)
            row.sessions, row.pending = [_state(s) for s in first.sessions], 0
            add[key] = list(row.sessions)
        _adopt_match(row, person, mode)
        if not row.email and person.email:
            row.email = person.email
        existing = {identity(s) for s in row.sessions if s.import_id is not NEW}
        added = add.setdefault(key, [])
        for s in person.sessions:
            state = _state(s)
            if identity(state) in existing:
                known += 1
            row.sessions.append(state)
            added.append(state)
        targets.append(key)
    for key in changed - fresh.keys():
        after[key] = after[key].measured(threshold)
    effect = _effect(before, after, threshold)
    effect.sessions_added = sum(len(v) for v in add.values()) - known
    effect.sessions_known = known
    effect.sessions_removed = len(removed)
    effect.rematched = sum(
        1
        for k in changed
        if k in before and (after[k].registration_id, after[k].match) != (before[k].registration_id, before[k].match)
    )
    return Plan(before, after, targets, created, add, removed, [], effect, changed)


def plan_undo(
    records: list[RecordState], import_id: int, restorable: dict[int, list[SessionState]], *, threshold: int
) -> Plan:
    """The plan of undoing import ``import_id``: its sessions go, the sessions it removed as a
    replace (``restorable``, by row id) come back."""
    before = {r.id: r for r in records}
    after = dict(before)
    changed: set[int] = set()
    taken = 0
    for r in records:
        kept = [s for s in r.sessions if s.import_id != import_id]
        back = restorable.get(r.id, [])
        if len(kept) != len(r.sessions) or back:
            taken += len(r.sessions) - len(kept)
            after[r.id] = replace(r, sessions=kept + list(back)).measured(threshold)
            changed.add(r.id)
    restored = [s.id for group in restorable.values() for s in group if s.id is not None]
    effect = _effect(before, after, threshold)
    effect.sessions_removed = taken
    effect.sessions_added = len(restored)
    return Plan(before, after, [], set(), {}, [], restored, effect, changed)


def _adopt_match(row: RecordState, person: Incoming, mode: str) -> None:
    """A row nobody decided about takes the incoming person's registration when it has none (merge),
    or the incoming matching as it is (replace: the new report is the truth)."""
    if row.manual or row.match == MATCH_IGNORED or row.source != SOURCE_IMPORT:
        return
    if person.registration_id is not None and (mode == "replace" or row.registration_id is None):
        row.registration_id, row.match = person.registration_id, person.match
    elif row.registration_id is None:
        row.match = MATCH_NONE


def _effect(before: dict[int, RecordState], after: dict[int, RecordState], threshold: int) -> Effect:
    was = {k for k, r in before.items() if r.person}
    now = {k for k, r in after.items() if r.person}
    return Effect(
        attended_before=attended_people(before.values()),
        attended_after=attended_people(after.values()),
        registrations_before=attended_registrations(before.values()),
        registrations_after=attended_registrations(after.values()),
        new=len(now - was),
        removed=len(was - now),
        to_resolve=sum(1 for k in now if after[k].match == MATCH_NONE),
    )


class _Index:
    """The rows an incoming person may join: by key, by email, by registration (rows shown
    first: a row kept without sessions is joined only when no shown row fits)."""

    def __init__(self, rows: Iterable[RecordState]):
        self.by_key: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.by_registration: dict[int, int] = {}
        for r in sorted(rows, key=lambda r: (not r.shown, r.id or 0)):
            if r.source == SOURCE_IMPORT:
                self.add(r.id, r)

    def add(self, key: int, row: RecordState) -> None:
        if row.person_key:
            self.by_key.setdefault(row.person_key, key)
        if row.email:
            self.by_email.setdefault(row.email.lower(), key)
        if row.registration_id is not None:
            self.by_registration.setdefault(row.registration_id, key)

    def find(self, person: Incoming) -> int | None:
        key = self.by_key.get(person.key)
        if key is None and person.email:
            key = self.by_email.get(person.email.lower())
        if key is None and person.registration_id is not None:
            key = self.by_registration.get(person.registration_id)
        return key
