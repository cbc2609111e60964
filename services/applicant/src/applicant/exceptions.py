"""Applicant's typed errors, each a problem+json status."""

from __future__ import annotations

from servicekit.problems import Conflict, NotFound, Unprocessable


class ProfileNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("You have no profile yet; create it with PUT /api/v1/me/profile.")


class IdentityNumberTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("This identity number is already registered to another account.")


class InvalidProfile(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])
