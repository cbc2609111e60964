"""Housing's outbox: every event this service publishes goes through it, in the change's transaction."""

from __future__ import annotations

from servicekit.outbox import Outbox

outbox = Outbox("housing")
