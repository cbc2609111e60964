"""Employer endpoints: recommendations (举荐) and demand declarations, and the public demand list (thin: the
rules live in recommendations.py and demands.py)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["employer"])
