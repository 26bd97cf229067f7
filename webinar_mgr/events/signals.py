"""Signals other modules listen to, so events need not know who cares about them.

``event_changed`` is sent by the events services after a change is flushed and before the
commit, so receivers (e.g. registrations, which mails updates with a new calendar entry) write
into the same transaction: the change and its mails land together or not at all.

    event_changed.send(event, actor=user, changes={"time", "place", "link", "status"})
"""

from blinker import Namespace

_signals = Namespace()

#: sender = the Event; kwargs: actor (User or None), changes (set of "time", "place", "link",
#: "status", "details"), cancelled (bool)
event_changed = _signals.signal("event-changed")
