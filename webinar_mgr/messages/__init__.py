"""Messages to an event's registrants and invitees, organisers' own mail texts per event, and the
automatic reminder to invitees who have not answered (issue 15). See docs/messages.md."""
