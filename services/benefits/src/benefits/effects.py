"""What a paid claim establishes, whichever way it was paid (one disbursement by finance in benefits.review,
or a bank's result line in benefits.payments): a used housing voucher ends the talent's rent subsidies and
talent-apartment rounds (`effects` in the policy data)."""

from __future__ import annotations

from contracts import HousingVoucherUsed
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.events import outbox
from benefits.flow import stop_open_claims
from benefits.models import Claim
from benefits.repository import BenefitsRepository


async def apply_payment_effects(session: AsyncSession, claim: Claim, policy: Policy, clock: Clock) -> None:
    if "housing_voucher_used" in policy.rules.effects:
        facts = await BenefitsRepository.of(session).get_or_add_facts(claim.talent_id)
        facts.housing_voucher_used = True
        outbox.emit(session, HousingVoucherUsed(talent_id=claim.talent_id, claim_id=claim.id), subject=claim.talent_id)
        await stop_open_claims(
            session, claim.talent_id, "benefits.stop.voucher_used", clock, exclusion="housing_voucher_used"
        )
