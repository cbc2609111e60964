"""Employer endpoints: staff and attestations (thin: the rules live in staff.py and attestations.py)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["employer"])
