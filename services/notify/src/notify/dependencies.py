"""Notify's request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from servicekit.auth import Principal, require_roles

from notify.components import Components


def get_components(request: Request) -> Components:
    components: Components = request.app.state.components
    return components


ComponentsDep = Annotated[Components, Depends(get_components)]
AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
# Any official: the officials' inbox (notify.officials) is addressed by account id, whatever the role.
OfficialPrincipal = Annotated[
    Principal,
    Depends(
        require_roles("county_reviewer", "city_approver", "finance_officer", "housing_officer", "auditor", "admin")
    ),
]
