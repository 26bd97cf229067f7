"""The registrations module's signals, for modules above it (the API's webhooks, reports...).

``registration_changed``  sender = the Registration; kwargs: why ("registered", "promoted",
                          "approved", "moved", "moved-off", "rejected", "cancelled"). Sent inside
                          the unit of work of the change, after the registration is flushed, so a
                          receiver writes into the same transaction (a webhook delivery queued with
                          the change lands with it or not at all).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

registration_changed = _signals.signal("registration-changed")
