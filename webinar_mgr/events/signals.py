"""The events module's extension points: modules above it (invitations, registrations,
commitments, attendance, reports) connect here, so that events never imports them.

Services' signals (sent inside a unit of work, so receivers write into the same transaction):

``event_changed``          sender = the Event; kwargs: actor, changes (a set of "time", "place",
                           "link", "status", "details"), cancelled (bool), before (the event's
                           values before the change: services.snapshot, or {}). Sent after the
                           change is flushed, before the commit: registrations queues its update
                           mails then (saying what changed from what to what).
``validate_event_change``  sender = the Event; kwargs: values (the new column values). Sent before
                           an update is applied; a receiver refuses it by raising ValidationFailed
                           with field errors (registrations: the capacity below the people
                           registered).
``join_link_access``       sender = the Event; kwargs: user (signed in). A receiver returns True
                           when that reader may see the online meeting link (registrations:
                           confirmed registrants). Organisers always may.

``event_form_saved``       sender = the Event (flushed: it has its id); kwargs: actor, formdata (the
                           submitted form's fields, a Mapping; EventInput.extra). Sent by
                           create_event and update_event inside their unit of work, after the
                           event's own values are applied: a receiver saves the fields it added to
                           the form (event_form_parts) and returns True when it changed something;
                           it refuses by raising ValidationFailed with field errors, and then
                           nothing of the change is saved (workplan: the action items chosen, each
                           plan's period). formdata is None when the change came from elsewhere
                           (the API): keep the fields, only check the changed event.

``event_copied``           sender = the source Event; kwargs: target (the new draft, flushed),
                           actor. Sent by copying.copy_event inside its unit of work, after the
                           event, its agenda and speakers are copied: a receiver copies what it
                           keeps for the event (registration questions, mail texts, work plan
                           links); raising refuses the copy, nothing saved.

The event page's signals (connected in the higher modules' views.py; receivers return
:class:`PagePart` or :class:`PageLink` objects, or None):

``event_page_parts``       sender = the Event; kwargs: user. Parts for the reader: a status line
                           ("Your registration: Confirmed") and action buttons ("Register",
                           "Pledge a commitment").
``event_page_links``       sender = the Event; kwargs: user (an organiser). Links to the
                           organisers' pages of the event (invitations, registrants, attendance...).
``event_form_parts``       sender = the Event being edited, or None for a new one; kwargs: user,
                           formdata (the submitted form when shown again, else None), errors
                           (field -> messages from the last attempt). Parts with slot "form": fields
                           a higher module adds to the event form (workplan: the action items the
                           event contributes to), saved through ``event_form_saved``.
"""

from __future__ import annotations

from dataclasses import dataclass

from blinker import Namespace
from markupsafe import Markup

_signals = Namespace()

event_changed = _signals.signal("event-changed")
validate_event_change = _signals.signal("validate-event-change")
join_link_access = _signals.signal("join-link-access")
event_page_parts = _signals.signal("event-page-parts")
event_page_links = _signals.signal("event-page-links")
event_form_parts = _signals.signal("event-form-parts")
event_form_saved = _signals.signal("event-form-saved")
event_copied = _signals.signal("event-copied")


@dataclass(frozen=True)
class PagePart:
    """HTML that a higher module shows on the event page, rendered by that module's template.
    ``slot``: "status" (a line above the buttons) or "actions" (a button among them); on the
    event form (event_form_parts): "form" (fields inside the form)."""

    slot: str
    html: Markup
    order: int = 50


@dataclass(frozen=True)
class PageLink:
    """A link in the event page's organisers' box."""

    label: str
    url: str
    order: int = 50


def collect(signal, sender, **kwargs) -> list:
    """Every non-empty value the receivers returned (a value or a list of them), in ``order``."""
    found = []
    for _receiver, value in signal.send(sender, **kwargs):
        if value is None:
            continue
        found.extend(value if isinstance(value, list | tuple) else [value])
    return sorted(found, key=lambda v: v.order)
