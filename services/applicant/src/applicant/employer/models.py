"""The employer side's tables (all prefixed ``talent_``, in the applicant's database)."""

from __future__ import annotations

# --- attestations (employment and social insurance at the source) ------------------------------------------


# --- recommendations (举荐) and demand declarations (人才需求申报) ------------------------------------------------
