"""The registrations module's signals, for modules above it (the API's webhooks, reports...).

``registration_changed``  sender = the Registration; kwargs: why ("registered", "promoted",
                          "approved", "moved", "moved-off", "rejected", "cancelled"). Sent inside
                          the unit of work of the change, after the registration is flushed, so a
                          receiver writes into the same transaction (a webhook delivery queued with
                          the change lands with it or not at all).
``manage_page_parts``     sender = the Registration; kwargs: token (the manage link's). Receivers
                          return PagePart objects (events.signals) shown on the manage page, e.g.
                          privacy's "My data" (a copy of what is held, consent to public pages).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

registration_changed = _signals.signal("registration-changed")
manage_page_parts = _signals.signal("manage-page-parts")
