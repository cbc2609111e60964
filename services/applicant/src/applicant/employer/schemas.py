"""Request and response bodies of the employer side (XCreate / XPublic)."""

from __future__ import annotations

# --- staff and attestations ----------------------------------------------------------------------------------


# --- recommendations and demands -----------------------------------------------------------------------------
