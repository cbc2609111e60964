"""Sign-in codes as SMS: outside dev the gateway hands each one-time code to notify's internal endpoint, and
it leaves through the same SMS channel (the provider, or the dev file sink) as every other notification.

Only the gateway may call it: the caller must present the gateway's own service token (subject
`service:gateway`, signed with the gateway's keys and checked like every token). The phone and the code are
never logged nor stored; the SMS goes out at once, as a code that arrives after it expires is useless.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from servicekit.auth import CurrentPrincipal, Principal
from servicekit.messages import render

from notify.channels import ChannelFailure
from notify.components import Components
from notify.dependencies import ComponentsDep
from notify.exceptions import NotTheGateway, SmsUnavailable

logger = logging.getLogger("notify.one_time_codes")

# The subject of the gateway's service tokens (gateway.tokens.SERVICE_SUBJECT): no account has it.
GATEWAY_SUBJECT = "service:gateway"


class OneTimeCodeSms(BaseModel):
    """A sign-in code for one phone, as the gateway sends it."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(pattern=r"^\+[1-9]\d{7,14}$", description="E.164, as the gateway normalised it")
    code: str = Field(pattern=r"^\d{4,8}$")
    expires_in: int = Field(ge=1, le=3600, description="seconds")
    locale: Literal["zh-CN", "en"] = "zh-CN"


async def require_gateway(principal: CurrentPrincipal) -> Principal:
    """Only the gateway's service token; a person's token, whatever its roles, is refused."""
    if principal.sub != GATEWAY_SUBJECT or principal.roles:
        raise NotTheGateway()
    return principal


GatewayPrincipal = Annotated[Principal, Depends(require_gateway)]


def sms_text(sms: OneTimeCodeSms) -> str:
    minutes = max(1, sms.expires_in // 60)
    return render("notify.sms.one_time_code", {"code": sms.code, "minutes": minutes}, sms.locale)


async def send_one_time_code(c: Components, sms: OneTimeCodeSms) -> None:
    """Send the code now through the SMS channel; a refusal is the caller's 503 (it tells the talent)."""
    reference = f"otp-{uuid.uuid4().hex}"
    try:
        await c.sms.send(sms.phone, sms_text(sms), reference=reference)
    except ChannelFailure as exc:
        # The failure's text never names the address; the reference ties this line to the provider's logs.
        logger.warning("one-time code SMS %s failed: %s", reference, exc)
        raise SmsUnavailable() from exc
    logger.info("one-time code SMS %s sent", reference)


internal_router = APIRouter(tags=["internal"], include_in_schema=False)


@internal_router.post("/internal/sms/one-time-codes", status_code=202, response_class=Response)
async def post_one_time_code(body: OneTimeCodeSms, components: ComponentsDep, _: GatewayPrincipal) -> Response:
    """Text a sign-in code to a phone (the gateway only)."""
    await send_one_time_code(components, body)
    return Response(status_code=202)
