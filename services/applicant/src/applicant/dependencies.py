"""Applicant's request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from applicant.service import Protector


def get_protector(request: Request) -> Protector:
    protector: Protector = request.app.state.protector
    return protector


ProtectorDep = Annotated[Protector, Depends(get_protector)]
