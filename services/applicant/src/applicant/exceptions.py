"""Applicant's typed errors, each a problem+json status."""

from __future__ import annotations

from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, PayloadTooLarge, Unprocessable


class ProfileNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("You have no profile yet; create it with PUT /api/v1/me/profile.")


class ProfileRequired(Conflict):
    def __init__(self) -> None:
        super().__init__("Create your profile with PUT /api/v1/me/profile first.")


class TalentNotFound(NotFound):
    def __init__(self, talent_id: str) -> None:
        super().__init__(f"No talent {talent_id} is registered.")


class IdentityNumberTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("This identity number is already registered to another account.")


class InvalidProfile(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class FamilyMemberNotFound(NotFound):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"You have no family member {member_id}.")


class FamilyConflict(Conflict):
    """A family member that is already registered, or one relation too many."""


class CertificationNotFound(NotFound):
    def __init__(self, certification_id: str) -> None:
        super().__init__(f"No certification {certification_id} that you may see.")


class CertificationConflict(Conflict):
    """A certification in a state that does not allow the request (e.g. a decision on a rejected one)."""


class TalentCodeUnavailable(Conflict):
    """Only a certified talent has a code."""


class SceneNotAllowed(Forbidden):
    def __init__(self, partner_kind: str | None, scene: str) -> None:
        super().__init__(
            f"A partner of kind {partner_kind or 'unknown'} may not verify codes for the scene {scene!r}.",
            errors=[{"field": "scene", "message": "not a scene your partner kind may use"}],
        )


# --- documents ---


class DocumentNotFound(NotFound):
    def __init__(self, document_id: str) -> None:
        super().__init__(f"No document {document_id} that you may see.")


class DocumentInUse(Conflict):
    """A document an open case (a certification under way, a submitted change request) cites."""


class UnsupportedDocumentType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class DocumentTooLarge(PayloadTooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(f"A document may have at most {limit} bytes; send a smaller scan (PDF, JPEG or PNG).")


class DocumentDamaged(DomainError):
    """A stored document that does not decrypt (damaged, truncated, swapped) or whose object is missing."""

    status, title, slug = 500, "Document damaged", "document-damaged"


class UnknownDocuments(Unprocessable):
    """Document ids that are not the talent's own documents, each named with the field that cites it."""

    def __init__(self, unknown: list[tuple[str, str]]) -> None:
        ids = ", ".join(document_id for _, document_id in unknown)
        super().__init__(
            f"These are not documents of yours: {ids}; upload them with POST /api/v1/me/documents first.",
            errors=[
                {"field": field, "message": f"no document {document_id} of yours"} for field, document_id in unknown
            ],
        )


# --- employer: recommendations (举荐) and demand declarations ---


class NotOnStaff(NotFound):
    """A talent whose profile does not name the calling employer: not theirs to see (a 404, not a 403)."""

    def __init__(self, talent_id: str) -> None:
        super().__init__(f"No talent {talent_id} on your staff (a talent's profile names their employer).")


class RecommendationNotFound(NotFound):
    def __init__(self, recommendation_id: str) -> None:
        super().__init__(f"No recommendation {recommendation_id} that you may see.")


class RecommendationConflict(Conflict):
    """A recommendation in a status that does not allow the request (a second filed one, withdrawing a cited one)."""


class InvalidRecommendationCitation(Unprocessable):
    """A certification's `recommendation_id` (or its claimed tier) that the recommendation does not support."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class DemandNotFound(NotFound):
    def __init__(self, demand_id: str) -> None:
        super().__init__(f"No demand declaration {demand_id} of yours.")


class InvalidDemand(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])
