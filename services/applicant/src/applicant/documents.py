"""Documents: the evidence files a talent uploads (PDF, JPEG, PNG), stored encrypted in the object store, cited
by certifications and change requests, and read by their owner and by the officials whose queue holds a case
citing them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.exceptions import UnknownDocuments
from applicant.models import Document


async def owned(session: AsyncSession, talent_id: str, document_ids: Sequence[str]) -> dict[str, Document]:
    """The talent's own documents among these ids, by id (anyone else's are left out)."""
    if not document_ids:
        return {}
    query = select(Document).where(Document.talent_id == talent_id, col(Document.id).in_(sorted(set(document_ids))))
    return {d.id: d for d in (await session.exec(query)).all()}


async def require_owned(
    session: AsyncSession, talent_id: str, document_ids: list[str], *, field: str = "document_ids"
) -> list[Document]:
    """The talent's documents with these ids, in the order given; a 422 naming every id that is not theirs
    (an unknown id and another talent's look the same). `field` names where the ids were sent."""
    found = await owned(session, talent_id, document_ids)
    unknown = [(f"{field}.{i}", d) for i, d in enumerate(document_ids) if d not in found]
    if unknown:
        raise UnknownDocuments(unknown)
    return [found[d] for d in document_ids]
