"""Who the calling employer is, from the claims the gateway signed into its user's access token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from servicekit.auth import Principal, require_roles

from applicant.exceptions import NoEmployerInToken


@dataclass(frozen=True)
class EmployerCaller:
    """The employer user making the request, and the employer (用人单位) it acts for."""

    user: str  # the employer user's account id (the token's sub): attestations are signed with it
    employer_id: str
    credit_code: str  # 统一社会信用代码: what a talent's profile names to be on this employer's staff
    name: str
    region_code: str | None

    def as_principal(self) -> Principal:
        """The caller as the kit's Principal (idempotency keys, audit entries, the read log), role `employer`."""
        return Principal(sub=self.user, roles=frozenset({"employer"}), region=self.region_code)


async def current_employer(principal: Annotated[Principal, Depends(require_roles("employer"))]) -> EmployerCaller:
    """The employer of an `employer` token; a token without the employer claims is refused."""
    claims = principal.claims
    employer_id, credit_code, name = claims.get("employer_id"), claims.get("credit_code"), claims.get("employer_name")
    if not (isinstance(employer_id, str) and isinstance(credit_code, str) and isinstance(name, str)):
        raise NoEmployerInToken()
    return EmployerCaller(
        user=principal.sub, employer_id=employer_id, credit_code=credit_code, name=name, region_code=principal.region
    )


EmployerDep = Annotated[EmployerCaller, Depends(current_employer)]
