"""The mail module's extension point: a higher module may supply an event's own wording of a mail
(messages: organisers' mail texts), so that mail never imports it.

``mail_wording``  sender = the template name ("mail/invitation"); kwargs: context (the template's
                  context, with ``subject``). A receiver returns ``(subject, body_text)`` to use
                  instead of the template's, or None. The body must keep what the recipient needs
                  (personal links, the footer); the HTML part is made from it (``html_from_text``),
                  every character escaped. Called inside the recipient's language.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

mail_wording = _signals.signal("mail-wording")
