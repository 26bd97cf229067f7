"""The invitations module's extension points (modules above it connect; invitations imports none).

``invitation_landing``  sender = the Invitation; kwargs: token. Sent when an invitee opens their
                        personal link (and has not declined). A receiver returns the page to show:
                        registrations returns its registration form with the invited address.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

invitation_landing = _signals.signal("invitation-landing")


def landing_page(invitation, *, token: str):
    """The first page a receiver offers for this invitation, or None when no module offers one."""
    for _receiver, page in invitation_landing.send(invitation, token=token):
        if page is not None:
            return page
    return None
