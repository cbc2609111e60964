"""Applicant's typed errors, each a problem+json status.

Every text is in data/messages.json (zh-CN and en), rendered in the caller's language (servicekit.messages);
the English rendering is what logs and `str(exc)` show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servicekit import messages
from servicekit.messages import EN, render
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, PayloadTooLarge, Unprocessable

messages.register_package("applicant")


class FieldRefusal(ValueError):
    """What is wrong with one value (an applicant.invalid.* key and its params), raised by checks that know no
    field name (identity numbers, phones, key sets); the caller names the field in a keyed 422."""

    def __init__(self, key: str, params: Mapping[str, Any] | None = None) -> None:
        self.key = key
        self.params = dict(params or {})
        super().__init__(render(key, self.params, EN))


class _FieldProblem(Unprocessable):
    """A field the rules refuse: the detail names the field, `errors[]` keeps the key for the caller's words."""

    key = "applicant.error.invalid_field"

    def __init__(self, field: str, problem: str | FieldRefusal, params: Mapping[str, Any] | None = None) -> None:
        if isinstance(problem, FieldRefusal):
            params = problem.params
            problem = problem.key
        values = dict(params or {})
        super().__init__(
            render(self.key, {"field": field, "problem": render(problem, values, EN)}, EN),
            # Raised while serving the request: the field's words in the caller's language.
            params={"field": field, "problem": render(problem, values)},
            errors=[{"field": field, "key": problem, "params": values}],
        )


class ProfileNotFound(NotFound):
    key = "applicant.error.profile_not_found"


class ProfileRequired(Conflict):
    key = "applicant.error.profile_required"


class TalentNotFound(NotFound):
    key = "applicant.error.talent_not_found"

    def __init__(self, talent_id: str) -> None:
        super().__init__(params={"talent_id": talent_id})


class IdentityNumberTaken(Conflict):
    key = "applicant.error.identity_number_taken"


class InvalidProfile(_FieldProblem):
    key = "applicant.error.invalid_field"


class FamilyMemberNotFound(NotFound):
    key = "applicant.error.family_member_not_found"

    def __init__(self, member_id: str) -> None:
        super().__init__(params={"member_id": member_id})


class FamilyConflict(Conflict):
    """A family member that is already registered, or one relation too many."""

    key = "applicant.error.family_member_already_registered"


class CertificationNotFound(NotFound):
    key = "applicant.error.certification_not_found"

    def __init__(self, certification_id: str) -> None:
        super().__init__(params={"certification_id": certification_id})


class CertificationConflict(Conflict):
    """A certification in a state that does not allow the request (e.g. a decision on a rejected one); each
    raise names its applicant.error.certification_* key."""

    key = "applicant.error.certification_conflict"


class TalentCodeUnavailable(Conflict):
    """Only a certified talent has a code; the key says why this talent has none."""

    key = "applicant.error.no_code_registered"


class SceneNotAllowed(Forbidden):
    key = "applicant.error.scene_not_allowed"

    def __init__(self, partner_kind: str | None, scene: str) -> None:
        super().__init__(
            params={"partner_kind": partner_kind or "unknown", "scene": scene},
            errors=[{"field": "scene", "key": "applicant.invalid.scene_not_allowed"}],
        )


class NoEmployerInToken(Forbidden):
    key = "applicant.error.no_employer_in_token"


# --- documents ---


class DocumentNotFound(NotFound):
    key = "applicant.error.document_not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(params={"document_id": document_id})


class DocumentInUse(Conflict):
    """A document an open case (a certification under way, a submitted change request) cites."""

    key = "applicant.error.document_cited_by_certification"


class UnsupportedDocumentType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"
    key = "applicant.error.unsupported_document_type"


class DocumentTooLarge(PayloadTooLarge):
    key = "applicant.error.document_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(params={"limit": limit})


class DocumentDamaged(DomainError):
    """A stored document that does not decrypt (damaged, truncated, swapped) or whose object is missing."""

    status, title, slug = 500, "Document damaged", "document-damaged"
    key = "applicant.error.document_damaged"

    def __init__(self, document_id: str) -> None:
        super().__init__(params={"document_id": document_id})


class UnknownDocuments(Unprocessable):
    """Document ids that are not the talent's own documents, each named with the field that cites it."""

    key = "applicant.error.unknown_documents"

    def __init__(self, unknown: list[tuple[str, str]]) -> None:
        super().__init__(
            params={"ids": ", ".join(document_id for _, document_id in unknown)},
            errors=[
                {"field": field, "key": "applicant.invalid.not_your_document", "params": {"document_id": document_id}}
                for field, document_id in unknown
            ],
        )


class InvalidUpload(_FieldProblem):
    """An upload refused for what it holds (empty, changed while read)."""

    key = "applicant.error.invalid_field"


# --- employer: recommendations (举荐) and demand declarations ---


class NotOnStaff(NotFound):
    """A talent whose profile does not name the calling employer: not theirs to see (a 404, not a 403)."""

    key = "applicant.error.not_on_staff"

    def __init__(self, talent_id: str) -> None:
        super().__init__(params={"talent_id": talent_id})


class RecommendationNotFound(NotFound):
    key = "applicant.error.recommendation_not_found"

    def __init__(self, recommendation_id: str) -> None:
        super().__init__(params={"recommendation_id": recommendation_id})


class RecommendationConflict(Conflict):
    """A recommendation in a status that does not allow the request (a second filed one, withdrawing a cited one)."""

    key = "applicant.error.recommendation_still_filed"


class InvalidRecommendationCitation(_FieldProblem):
    """A certification's `recommendation_id` (or its claimed tier) that the recommendation does not support."""

    key = "applicant.error.invalid_field"


class DemandNotFound(NotFound):
    key = "applicant.error.demand_not_found"

    def __init__(self, demand_id: str) -> None:
        super().__init__(params={"demand_id": demand_id})


class InvalidDemand(_FieldProblem):
    key = "applicant.error.invalid_field"
