"""The gateway's rules: one-time codes, the four grants, refresh-token rotation, dev accounts.

Employers and their users are registered in gateway.employers.

Functions here flush and never commit: the request is the unit of work.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import unquote_plus

import httpx
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.messages import current_locale
from servicekit.problems import Unauthorized
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import repository, revocation, throttle
from gateway.config import GatewaySettings
from gateway.crypto import KeyedHasher, Sealer, SecretHasher
from gateway.exceptions import (
    DevAccountsPresentError,
    InvalidClient,
    InvalidGrant,
    InvalidPhone,
    InvalidRequest,
    OtpDeliveryFailed,
    OtpRateLimited,
    SignInThrottled,
    UnsupportedGrantType,
)
from gateway.models import Account, AccountKind, Employer, OtpChallenge, RefreshToken, new_id
from gateway.phones import normalize_phone
from gateway.revocation import RevocationList
from gateway.schemas import OtpIssued, TokenForm, TokenResponse
from gateway.tokens import TokenIssuer, new_otp_code, new_refresh_token, scope_for

logger = logging.getLogger("gateway.service")

DEV_PASSWORD = "dev-password"  # noqa: S105 - the documented dev-only credential
DEV_SECRET = "dev-secret"  # noqa: S105 - the documented dev-only credential
DEV_OFFICIALS: tuple[tuple[str, str, str | None], ...] = (
    ("reviewer.nanhu", "county_reviewer", "330402"),
    ("reviewer.xiuzhou", "county_reviewer", "330411"),
    ("approver.city", "city_approver", None),
    ("approver.city2", "city_approver", None),
    ("finance.city", "finance_officer", None),
    ("housing.city", "housing_officer", None),
    ("auditor.city", "auditor", None),
    ("leader.city", "leader", None),
    ("admin", "admin", None),
)
# What talents see of the dev officials on their cases (首问负责制): a display name and an office number.
DEV_OFFICIAL_CONTACTS: dict[str, tuple[str, str]] = {
    "reviewer.nanhu": ("南湖区人才办 王老师", "0573-82000001"),
    "reviewer.xiuzhou": ("秀洲区人才办 李老师", "0573-82000002"),
    "approver.city": ("市人才办 陈老师", "0573-82000010"),
    "approver.city2": ("市人才办 周老师", "0573-82000011"),
    "finance.city": ("市财政局 赵老师", "0573-82000020"),
    "housing.city": ("市住建局 孙老师", "0573-82000030"),
}
DEV_PARTNERS: tuple[tuple[str, str], ...] = (("partner.hospital", "hospital"), ("partner.transit", "transit"))
# The dev employer (用人单位) and its user: username, credit code, name, region.
DEV_EMPLOYER = ("employer.demo", "91330402MA2B3C4D53", "嘉兴某科技有限公司", "330402")
DEV_USERNAMES = tuple(u for u, _, _ in DEV_OFFICIALS) + tuple(c for c, _ in DEV_PARTNERS) + (DEV_EMPLOYER[0],)

_WRONG_CREDENTIALS = "gateway.oauth.wrong_credentials"
_WRONG_CLIENT = "gateway.oauth.wrong_client"


class OtpSender(Protocol):
    async def send(self, phone: str, code: str, expires_in: int) -> None: ...


class DiscardingOtpSender:
    """Dev: the code is returned as `dev_code` and goes nowhere else."""

    async def send(self, phone: str, code: str, expires_in: int) -> None:
        return None


class NotifyOtpSender:
    """Outside dev: the code goes out through notify's SMS channel (its internal endpoint), the gateway
    presenting a short token of its own, in the caller's language."""

    def __init__(self, client: httpx.AsyncClient, url: str, issuer: TokenIssuer) -> None:
        self._client = client
        self._url = url
        self._issuer = issuer

    async def send(self, phone: str, code: str, expires_in: int) -> None:
        token = self._issuer.service_token("notify", utcnow())
        try:
            response = await self._client.post(
                self._url,
                json={"phone": phone, "code": code, "expires_in": expires_in, "locale": current_locale()},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10.0,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # The exception's text may hold the URL, never the phone or the code: only its kind is logged.
            logger.warning("one-time code delivery failed: %s", type(exc).__name__)
            raise OtpDeliveryFailed() from exc


@dataclass
class AuthComponents:
    """What the auth rules need, built once at start-up."""

    settings: GatewaySettings
    hasher: KeyedHasher
    phone_sealer: Sealer
    secrets: SecretHasher
    issuer: TokenIssuer
    otp_sender: OtpSender
    # The revoked families and tokens this process refuses (gateway.revocation).
    revocations: RevocationList = field(default_factory=RevocationList)
    # Seals the access token kept with each refresh token for the grace window (never stored in clear).
    token_sealer: Sealer = field(init=False)

    def __post_init__(self) -> None:
        self.token_sealer = Sealer(self.settings.data_encryption_key.get_secret_value(), "issued-access-token")


# --- one-time codes ----------------------------------------------------------------------------


async def request_otp(session: AsyncSession, auth: AuthComponents, raw_phone: str) -> OtpIssued:
    """Send a sign-in code to a phone, within the per-phone limits."""
    settings = auth.settings
    phone = normalize_phone(raw_phone)
    phone_hash = auth.hasher.digest("phone", phone)
    now = utcnow()
    recent = await repository.recent_challenges(session, phone_hash, now - timedelta(hours=1))
    if recent:
        since_last = (now - recent[0].created_at).total_seconds()
        if since_last < settings.otp_min_interval_s:
            wait = int(settings.otp_min_interval_s - since_last) + 1
            raise OtpRateLimited("gateway.otp.too_soon", wait)
    if len(recent) >= settings.otp_max_per_hour:
        opens_at = recent[settings.otp_max_per_hour - 1].created_at + timedelta(hours=1)
        wait = int((opens_at - now).total_seconds()) + 1
        raise OtpRateLimited("gateway.otp.hourly_limit", wait)

    await repository.supersede_challenges(session, phone_hash, now)
    code = new_otp_code()
    challenge = OtpChallenge(
        id=new_id(),
        phone_hash=phone_hash,
        code_hash="",
        created_at=now,
        expires_at=now + timedelta(seconds=settings.otp_ttl_s),
    )
    challenge.code_hash = auth.hasher.digest("otp", f"{challenge.id}:{code}")
    session.add(challenge)
    await session.flush()
    await auth.otp_sender.send(phone, code, settings.otp_ttl_s)
    logger.info("one-time code issued challenge=%s", challenge.id)
    return OtpIssued(expires_in=settings.otp_ttl_s, dev_code=code if settings.is_dev else None)


async def grant_otp(session: AsyncSession, auth: AuthComponents, raw_phone: str, code: str) -> TokenResponse:
    """Exchange a phone and its code for tokens; the talent account is created on first sign-in."""
    try:
        phone = normalize_phone(raw_phone)
    except InvalidPhone as exc:
        raise InvalidRequest(exc.detail, key=exc.key, params=exc.params) from exc
    phone_hash = auth.hasher.digest("phone", phone)
    now = utcnow()
    challenge = await repository.open_challenge(session, phone_hash, now)
    if challenge is None:
        raise InvalidGrant(key="gateway.oauth.no_valid_code")
    max_attempts = auth.settings.otp_max_attempts
    if challenge.attempts >= max_attempts:
        raise InvalidGrant(key="gateway.oauth.too_many_wrong_codes")
    if not auth.hasher.matches("otp", f"{challenge.id}:{code.strip()}", challenge.code_hash):
        attempts = await repository.count_attempt(session, challenge.id)
        left = max(0, max_attempts - attempts)
        if left == 0:
            raise InvalidGrant(key="gateway.oauth.code_wrong_locked")
        raise InvalidGrant(key="gateway.oauth.code_wrong", params={"left": left}, attempts_left=left)
    if not await repository.consume_challenge(session, challenge.id, now):
        raise InvalidGrant(key="gateway.oauth.code_used")

    account = await repository.get_account_by_phone_hash(session, phone_hash)
    if account is None:
        account = Account(kind=AccountKind.talent, phone_hash=phone_hash, roles=["talent"], created_at=now)
        account.phone_ciphertext = auth.phone_sealer.seal(phone.encode(), associated=phone_hash)
        session.add(account)
        logger.info("talent account created sub=%s", account.id)
    elif account.disabled_at is not None:
        raise InvalidGrant(key="gateway.oauth.account_disabled")
    return await _issue(session, auth, account, now)


# --- officials and partners --------------------------------------------------------------------


# Who signs in with a username and password: officials and employers' users, under the same throttling.
PASSWORD_KINDS = frozenset({AccountKind.official, AccountKind.employer})


async def _employer_of(session: AsyncSession, account: Account) -> Employer | None:
    if account.kind != AccountKind.employer or account.employer_id is None:
        return None
    return await repository.get_employer(session, account.employer_id)


async def _may_sign_in(session: AsyncSession, account: Account) -> bool:
    """Not disabled, and an employer user's employer not disabled either."""
    if account.disabled_at is not None:
        return False
    if account.kind != AccountKind.employer:
        return True
    employer = await _employer_of(session, account)
    return employer is not None and employer.disabled_at is None


async def grant_password(
    session: AsyncSession, auth: AuthComponents, username: str, password: str, source: str
) -> TokenResponse:
    """An official's or an employer user's username and password from a source address; failures are throttled
    per (username, source) and per username (gateway.throttle), whether or not the username exists."""
    now = utcnow()
    keys = throttle.keys_for(auth.hasher, username, source)
    wait = await throttle.wait_before_attempt(session, keys, now)
    if wait is not None:
        # A throttled answer costs what any other does (one argon2 verification, against the dummy hash made
        # with the same parameters), so neither its status, its body nor its time tells names apart.
        await auth.secrets.verify(None, password)
        raise SignInThrottled(wait)
    account = await repository.get_account_by_username(session, username)
    if account is not None and account.kind not in PASSWORD_KINDS:
        account = None
    valid = await auth.secrets.verify(account.secret_hash if account else None, password)
    # A disabled account (or employer) gets the answer of a wrong password and is counted like one: it says
    # nothing about the account.
    if account is None or not valid or not await _may_sign_in(session, account):
        await throttle.count_failure(session, auth.settings, keys, now)
        raise InvalidGrant(key=_WRONG_CREDENTIALS)
    await throttle.forget_source(session, keys)
    if account.secret_hash and auth.secrets.needs_rehash(account.secret_hash):
        account.secret_hash = await auth.secrets.hash_async(password)
    return await _issue(session, auth, account, now)


async def grant_client_credentials(
    session: AsyncSession, auth: AuthComponents, client_id: str, client_secret: str
) -> TokenResponse:
    """A partner system's client id and secret; partners get no refresh token."""
    account = await repository.get_account_by_username(session, client_id)
    if account is not None and account.kind != AccountKind.partner:
        account = None
    valid = await auth.secrets.verify(account.secret_hash if account else None, client_secret)
    if account is None or not valid or account.disabled_at is not None:
        raise InvalidClient(_WRONG_CLIENT)
    return await _issue(session, auth, account, utcnow(), with_refresh=False)


# --- refresh tokens ----------------------------------------------------------------------------


async def grant_refresh(session: AsyncSession, auth: AuthComponents, token: str) -> TokenResponse:
    """Rotate a refresh token. The same token presented again within `refresh_grace_s` of its rotation (a
    parallel refresh, a retry) gets the same new pair; later, a second use is reuse and revokes the family."""
    now = utcnow()
    row = await repository.get_refresh_token(session, auth.hasher.digest("refresh", token))
    if row is None:
        raise InvalidGrant(key="gateway.oauth.refresh_invalid")
    if row.revoked_at is not None:
        raise InvalidGrant(key="gateway.oauth.refresh_revoked")
    if row.expires_at <= now:
        raise InvalidGrant(key="gateway.oauth.refresh_expired")
    if row.rotated_at is None and await repository.mark_rotated(session, row.id, now):
        account = await repository.get_account(session, row.account_id)
        if account is None or not await _may_sign_in(session, account):
            await revoke_families(session, auth, [row.family_id])
            raise InvalidGrant(key="gateway.oauth.refresh_account_gone")
        return await _issue(session, auth, account, now, family_id=row.family_id, rotated_from=token)
    # Rotated (or revoked) already, perhaps by a concurrent request that has committed since: read it again.
    row = await repository.reread_refresh_token(session, row)
    if row.revoked_at is not None:
        raise InvalidGrant(key="gateway.oauth.refresh_revoked")
    again = await _pair_issued_within_grace(session, auth, row, token, now)
    if again is not None:
        return again
    await revoke_families(session, auth, [row.family_id])
    logger.warning("refresh token reused; family revoked sub=%s family=%s", row.account_id, row.family_id)
    raise InvalidGrant(key="gateway.oauth.refresh_reused")


def _successor_of(auth: AuthComponents, token: str) -> str:
    """The refresh token a rotation of `token` issues, derived from it (keyed): a repeated presentation within
    the grace window gets the same one back, and no refresh token is ever stored in clear."""
    return base64.urlsafe_b64encode(bytes.fromhex(auth.hasher.digest("refresh-successor", token))).decode().rstrip("=")


async def _pair_issued_within_grace(
    session: AsyncSession, auth: AuthComponents, row: RefreshToken, token: str, now: datetime
) -> TokenResponse | None:
    """The pair the rotation of `row` issued, when that rotation is recent enough to be the same refresh."""
    if row.rotated_at is None or (now - row.rotated_at).total_seconds() > auth.settings.refresh_grace_s:
        return None
    successor_token = _successor_of(auth, token)
    successor = await repository.get_refresh_token(session, auth.hasher.digest("refresh", successor_token))
    if successor is None or successor.revoked_at is not None or successor.access_token_sealed is None:
        return None
    account = await repository.get_account(session, row.account_id)
    if account is None or not await _may_sign_in(session, account):
        return None
    access_token = auth.token_sealer.open(successor.access_token_sealed, associated=successor.id).decode()
    return TokenResponse(
        access_token=access_token,
        expires_in=auth.settings.access_token_ttl_s,
        refresh_token=successor_token,
        scope=scope_for(account),
    )


async def revoke_families(session: AsyncSession, auth: AuthComponents, family_ids: list[str]) -> None:
    """Revoke refresh-token families: their refresh tokens, and the access tokens issued with them (`sid`)."""
    now = utcnow()
    for family_id in family_ids:
        await repository.revoke_family(session, family_id, now)
    refs = [(family_id, revocation.FAMILY) for family_id in family_ids]
    await revocation.revoke(session, auth.revocations, refs, auth.settings.access_token_ttl_s)


class TokenVerifying(Protocol):
    async def verify(self, token: str) -> Principal: ...


async def revoke_token(session: AsyncSession, auth: AuthComponents, token: str, verifier: TokenVerifying) -> None:
    """Sign out (RFC 7009): a refresh token revokes its family; an access token its family (`sid`) or, without
    one (a partner's), itself. An unknown, invalid or already revoked token is no error: the answer is the same."""
    row = await repository.get_refresh_token(session, auth.hasher.digest("refresh", token))
    if row is not None:
        await revoke_families(session, auth, [row.family_id])
        logger.info("signed out: family revoked sub=%s family=%s", row.account_id, row.family_id)
        return
    try:
        principal = await verifier.verify(token)
    except Unauthorized:
        return
    family, token_id = principal.claims.get(revocation.FAMILY), principal.claims.get(revocation.SINGLE_TOKEN)
    if family:
        await revoke_families(session, auth, [str(family)])
    elif token_id:
        refs = [(str(token_id), revocation.SINGLE_TOKEN)]
        await revocation.revoke(session, auth.revocations, refs, auth.settings.access_token_ttl_s)
    logger.info("signed out: access token revoked sub=%s", principal.sub)


def _sign_in_phone(auth: AuthComponents, account: Account) -> str | None:
    """A talent's phone, proved by the one-time code that created the account: its token vouches for it."""
    if account.kind != AccountKind.talent or not account.phone_ciphertext or not account.phone_hash:
        return None
    return auth.phone_sealer.open(account.phone_ciphertext, associated=account.phone_hash).decode()


async def _issue(
    session: AsyncSession,
    auth: AuthComponents,
    account: Account,
    now: datetime,
    *,
    family_id: str | None = None,
    with_refresh: bool = True,
    rotated_from: str | None = None,
) -> TokenResponse:
    """Tokens for an account: with a refresh token (new, or the successor of the one rotated) in a family."""
    account.last_sign_in_at = now
    session.add(account)
    refresh: str | None = None
    family: str | None = None
    if with_refresh:
        family = family_id or new_id()
        refresh = _successor_of(auth, rotated_from) if rotated_from is not None else new_refresh_token()
        row = RefreshToken(
            token_hash=auth.hasher.digest("refresh", refresh),
            family_id=family,
            account_id=account.id,
            created_at=now,
            expires_at=now + timedelta(seconds=auth.settings.refresh_token_ttl_s),
        )
        session.add(row)
    await session.flush()
    response = TokenResponse(
        access_token=auth.issuer.access_token(
            account, now, await _employer_of(session, account), phone=_sign_in_phone(auth, account), family_id=family
        ),
        expires_in=auth.settings.access_token_ttl_s,
        refresh_token=refresh,
        scope=scope_for(account),
    )
    if with_refresh:
        # Kept sealed for a parallel refresh of the predecessor within the grace window (grant_refresh).
        row.access_token_sealed = auth.token_sealer.seal(response.access_token.encode(), associated=row.id)
        session.add(row)
        await session.flush()
    return response


# --- accounts created by operators and dev accounts --------------------------------------------


async def create_official(
    session: AsyncSession,
    auth: AuthComponents,
    username: str,
    password: str,
    roles: list[str],
    region: str | None,
    *,
    display_name: str | None = None,
    office_phone: str | None = None,
) -> Account:
    account = Account(
        kind=AccountKind.official,
        username=username,
        secret_hash=await auth.secrets.hash_async(password),
        roles=roles,
        region=region,
        display_name=display_name,
        office_phone=office_phone,
    )
    session.add(account)
    await session.flush()
    return account


async def create_partner(
    session: AsyncSession, auth: AuthComponents, client_id: str, client_secret: str, partner_kind: str
) -> Account:
    account = Account(
        kind=AccountKind.partner,
        username=client_id,
        secret_hash=await auth.secrets.hash_async(client_secret),
        roles=["partner"],
        partner_kind=partner_kind,
    )
    session.add(account)
    await session.flush()
    return account


async def create_employer_user(
    session: AsyncSession, auth: AuthComponents, employer: Employer, username: str, password: str
) -> Account:
    """A user of an employer: signs in with a password, acts for the employer (role `employer`)."""
    account = Account(
        kind=AccountKind.employer,
        username=username,
        secret_hash=await auth.secrets.hash_async(password),
        roles=["employer"],
        employer_id=employer.id,
    )
    session.add(account)
    await session.flush()
    return account


async def seed_dev_accounts(session: AsyncSession, auth: AuthComponents) -> int:
    """Create the documented dev accounts that are missing (TALENT_ENV=dev only)."""
    if not auth.settings.is_dev:
        raise DevAccountsPresentError("dev accounts are created only with TALENT_ENV=dev")
    created = 0
    for username, role, region in DEV_OFFICIALS:
        if await repository.get_account_by_username(session, username) is None:
            display_name, office_phone = DEV_OFFICIAL_CONTACTS.get(username, (None, None))
            account = await create_official(
                session,
                auth,
                username,
                DEV_PASSWORD,
                [role],
                region,
                display_name=display_name,
                office_phone=office_phone,
            )
            account.is_dev = True
            created += 1
    for client_id, kind in DEV_PARTNERS:
        if await repository.get_account_by_username(session, client_id) is None:
            account = await create_partner(session, auth, client_id, DEV_SECRET, kind)
            account.is_dev = True
            created += 1
    username, credit_code, name, region = DEV_EMPLOYER
    if await repository.get_account_by_username(session, username) is None:
        employer = await repository.get_employer_by_credit_code(session, credit_code)
        if employer is None:
            employer = Employer(credit_code=credit_code, name=name, region_code=region)
            session.add(employer)
            await session.flush()
        account = await create_employer_user(session, auth, employer, username, DEV_PASSWORD)
        account.is_dev = True
        created += 1
    await session.flush()
    return created


async def refuse_dev_accounts(session: AsyncSession, environment: str) -> None:
    """Outside dev, refuse to run while any dev account exists."""
    found = await repository.list_dev_accounts(session, DEV_USERNAMES)
    if found:
        names = ", ".join(sorted(a.username or a.id for a in found))
        raise DevAccountsPresentError(
            f"The gateway refuses to start with TALENT_ENV={environment}: the database holds dev accounts "
            f"({names}) whose passwords are public. Run `gateway purge-dev-accounts` or use a fresh database."
        )


async def purge_dev_accounts(session: AsyncSession) -> int:
    """Delete the dev accounts, and the dev employer once no account of it is left."""
    found = await repository.list_dev_accounts(session, DEV_USERNAMES)
    employer_ids = {a.employer_id for a in found if a.employer_id is not None}
    for account in found:
        await repository.delete_account(session, account)
    await session.flush()
    for employer_id in employer_ids:
        await repository.delete_employer_if_unused(session, employer_id)
    await session.flush()
    return len(found)


# --- the token endpoint ------------------------------------------------------------------------


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: client credentials in an HTTP Basic header (each part form-url-encoded)."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("gateway.oauth.basic_malformed") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("gateway.oauth.basic_malformed")
    return unquote_plus(client_id), unquote_plus(secret)


def _required(form: TokenForm, *names: str) -> list[str]:
    missing = [n for n in names if not getattr(form, n)]
    if missing:
        raise InvalidRequest(
            key="gateway.oauth.fields_required", params={"grant_type": form.grant_type, "fields": ", ".join(missing)}
        )
    return [str(getattr(form, n)) for n in names]


async def exchange(
    session: AsyncSession, auth: AuthComponents, form: TokenForm, authorization: str | None, *, source: str
) -> TokenResponse:
    """Dispatch a token request (from the `source` address) on its grant type."""
    if not form.grant_type:
        raise InvalidRequest(key="gateway.oauth.grant_type_required")
    if form.grant_type == "otp":
        phone, code = _required(form, "phone", "code")
        return await grant_otp(session, auth, phone, code)
    if form.grant_type == "password":
        username, password = _required(form, "username", "password")
        return await grant_password(session, auth, username, password, source)
    if form.grant_type == "client_credentials":
        basic = _basic_credentials(authorization)
        if basic is None:
            basic = (form.client_id or "", form.client_secret or "")
            if not all(basic):
                raise InvalidClient("gateway.oauth.client_credentials_required")
        return await grant_client_credentials(session, auth, *basic)
    if form.grant_type == "refresh_token":
        (token,) = _required(form, "refresh_token")
        return await grant_refresh(session, auth, token)
    raise UnsupportedGrantType(params={"grant_type": form.grant_type})
