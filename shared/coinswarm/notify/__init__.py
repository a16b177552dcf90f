"""Notifications to the owner: what happened (events), said in each service's words (channels), sent at
most once within a bounded time (the notifier). See docs/remote-control.md."""
