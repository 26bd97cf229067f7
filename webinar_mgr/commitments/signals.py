"""The commitments module's signals, for modules above it (the API's webhooks).

``commitment_delivered``  sender = the Commitment; sent inside the unit of work of the update that
                          marks it delivered (or adds evidence to a delivered one).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

commitment_delivered = _signals.signal("commitment-delivered")
