"""Housing's request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from servicekit.auth import Principal, require_roles

# Officer endpoints: the gateway checks the same role, and so does the service (defence in depth).
HousingOfficer = Annotated[Principal, Depends(require_roles("housing_officer"))]
