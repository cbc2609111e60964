"""`make demo`: a one-minute scripted walk through the whole platform, against a running stack.

sign-in → profile → the employer (用人单位) finds the talent on its staff, attests the employment, files a
recommendation and declares open posts, which the public demand list shows → certification → county and city
approval → talent code → a partner verifies it → the auto-granted (免申即享) claim → a one-tap claim → its
approvals → the inbox → a housing round → the lease.

Every step prints what it did. A step whose endpoint is not there yet (404, 405, 501, or the service is
down) is reported as skipped, and the steps that need its result are skipped too; any other error stops
the walk with the problem+json the platform answered. Only the public API of docs/api.md is used.

    uv run python scripts/demo.py [--base-url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

DEV_PASSWORD = "dev-password"  # the dev accounts' password (TALENT_ENV=dev only)  # noqa: S105
DEV_SECRET = "dev-secret"  # noqa: S105
DEV_EMPLOYER = "employer.demo"  # the dev employer's user; its credit code is the one the demo profile names
DEV_EMPLOYER_CREDIT_CODE = "91330402MA2B3C4D53"
UNAVAILABLE = {404, 405, 501, 502, 503, 504}
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class Skipped(Exception):
    """A step whose endpoint is not available (yet)."""


class Failed(Exception):
    """A step the platform refused."""


def resident_id(region: str, birth: date, sequence: int) -> str:
    """A resident identity number with a valid GB 11643 check digit."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


class Walk:
    def __init__(self, base_url: str, poll_s: float) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15.0)
        self.poll_s = poll_s
        self.tokens: dict[str, str] = {}
        self.state: dict[str, Any] = {}
        self.done = 0
        self.skipped: list[str] = []

    # --- plumbing ------------------------------------------------------------------------------

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Skipped(f"{method} {path}: {exc}") from exc
        if response.status_code in UNAVAILABLE:
            raise Skipped(f"{method} {path} → {response.status_code} {_detail(response)}")
        if response.status_code >= 400:
            raise Failed(f"{method} {path} → {response.status_code} {_detail(response)}")
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def eventually(self, what: str, probe: Callable[[], Any]) -> Any:
        """Poll until probe() returns something truthy (events travel through Kafka)."""
        deadline = time.monotonic() + self.poll_s
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failed(f"{what}: not seen within {self.poll_s:.0f} s")
            time.sleep(0.5)

    def step(self, title: str, needs: tuple[str, ...], action: Callable[[], str]) -> None:
        number = self.done + len(self.skipped) + 1
        print(f"\n{number:>2}. {title}")
        missing = [n for n in needs if n not in self.state]
        if missing:
            self.skipped.append(title)
            print(f"    ↷ skipped: needs {', '.join(missing)} from an earlier step")
            return
        try:
            print("    ✓ " + action().replace("\n", "\n      "))
            self.done += 1
        except Skipped as exc:
            self.skipped.append(title)
            print(f"    ↷ skipped: endpoint not available yet ({exc})")

    def sign_in_official(self, username: str) -> None:
        if username not in self.tokens:
            token = self.call(
                None,
                "POST",
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": DEV_PASSWORD},
            )
            self.tokens[username] = token["access_token"]

    # --- the steps -----------------------------------------------------------------------------

    def sign_in(self) -> str:
        phone = f"+86139{random.randint(0, 99_999_999):08d}"  # noqa: S311
        challenge = self.call(None, "POST", "/api/v1/auth/otp", json={"phone": phone})
        code = challenge.get("dev_code")
        if not code:
            raise Failed("no dev_code in the answer: the demo needs the gateway to run with TALENT_ENV=dev")
        token = self.call(None, "POST", "/api/v1/auth/token", data={"grant_type": "otp", "phone": phone, "code": code})
        self.tokens["talent"] = token["access_token"]
        self.state["talent"] = phone
        return f"talent {phone} signed in with the one-time code {code} (shown because TALENT_ENV=dev)"

    def profile(self) -> str:
        today = datetime.now(UTC).date()
        birth = date(today.year - 27, 3, 7)
        body = {
            "name": "李四",
            "id_type": "resident_id",
            "id_number": resident_id("330402", birth, random.randint(100, 999)),  # noqa: S311
            "birth_date": birth.isoformat(),
            "locale": "zh-CN",
            "region_code": "330402",
            "education": {
                "degree": "master",
                "school": "浙江大学",
                "graduated_on": (today - timedelta(days=180)).isoformat(),
            },
            "employer": {
                "name": "嘉兴某科技有限公司",
                "credit_code": DEV_EMPLOYER_CREDIT_CODE,
                "region_code": "330402",
            },
            "social_insurance_months": 6,
            "owns_home_in_city": False,
        }
        profile = self.call("talent", "PUT", "/api/v1/me/profile", json=body)
        self.state["profile"] = profile
        return f"profile stored; identity number shown masked: {profile.get('id_number_masked')}"

    def employer_staff(self) -> str:
        self.sign_in_official(DEV_EMPLOYER)  # an employer's user signs in with a password, like an official
        talent_id = self.call("talent", "GET", "/api/v1/me/talent")["talent_id"]
        member, cursor, seen = None, None, 0
        while member is None:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.call(DEV_EMPLOYER, "GET", "/api/v1/employer/staff", params=params)
            seen += len(page["items"])
            member = next((m for m in page["items"] if m["talent_id"] == talent_id), None)
            cursor = page["next_cursor"]
            if member is None and cursor is None:
                raise Failed("the talent is not on employer.demo's staff, though the profile names it")
        self.state["staff_member"] = talent_id
        return (
            f"{DEV_EMPLOYER} signed in; {seen} staff member(s) listed (the talents whose profile names it)\n"
            f"the new talent: {member['name']}, identity number {member['id_number_masked']}, status {member['status']}"
        )

    def attest(self) -> str:
        months = self.state["profile"].get("social_insurance_months", 6)
        attestation = self.call(
            DEV_EMPLOYER,
            "POST",
            "/api/v1/employer/attestations",
            json={
                "talent_id": self.state["staff_member"],
                "employed_since": (datetime.now(UTC).date() - timedelta(days=200)).isoformat(),
                "position": "芯片设计工程师",
                "social_insurance_months": months,
                "outcome": "confirmed",
            },
        )
        provenance = self.call("talent", "GET", "/api/v1/me/profile").get("provenance", {})
        sources = {fact: provenance.get(fact, {}).get("source") for fact in ("employer", "social_insurance_months")}
        return (
            f"attestation {attestation['id']}: {attestation['outcome']}, {months} months of social insurance, "
            f"blocking {attestation['blocking']}\n"
            f"the profile now says where the facts come from: {json.dumps(sources)}"
        )

    def recommend(self) -> str:
        recommendation = self.call(
            DEV_EMPLOYER,
            "POST",
            "/api/v1/employer/recommendations",
            json={
                "talent_id": self.state["staff_member"],
                "claimed_tier": "E",
                "reason": "核心研发骨干，主持车规芯片验证",
            },
        )
        return (
            f"举荐 {recommendation['id']} filed (tier {recommendation['claimed_tier']}): the talent may cite it on the "
            "employer_recommendation route (GET /api/v1/me/recommendations)"
        )

    def demand(self) -> str:
        self.sign_in_official(DEV_EMPLOYER)
        options = self.call(None, "GET", "/api/v1/demands/options")
        category_code = options["shortage_categories"][0]
        band = options["salary_bands"][0]["code"] if options.get("salary_bands") else None
        title = f"芯片设计工程师 {random.randint(100, 999)}"  # noqa: S311
        declared = self.call(
            DEV_EMPLOYER,
            "POST",
            "/api/v1/employer/demands",
            json={
                "title": title,
                "count": 3,
                "shortage_category": category_code,
                "degree": "master",
                "salary_band": band,
            },
        )
        listed = self.call(None, "GET", "/api/v1/demands", params={"shortage_category": category_code, "limit": 200})
        shown = any(d["id"] == declared["id"] for d in listed["items"])
        return (
            f"人才需求申报: {declared['count']} × {declared['title']} ({declared['shortage_category']}, "
            f"region {declared['region_code']}): {declared['status']}\n"
            f"the public demand list (no sign-in) shows it: {shown}"
        )

    def certification(self) -> str:
        diploma = "master's diploma, 浙江大学".encode()
        body = {
            "route": "degree",
            "claimed_tier": "E",
            "evidence": [
                {"kind": "diploma", "reference": "diploma.pdf", "sha256": hashlib.sha256(diploma).hexdigest()}
            ],
        }
        cert = self.call("talent", "POST", "/api/v1/me/certifications", json=body)
        self.state["certification"] = cert["id"]
        return f"certification {cert['id']} submitted (route degree, tier E): status {cert['status']}"

    def decide_certification(self, officer: str, expected: str) -> str:
        self.sign_in_official(officer)
        cert_id = self.state["certification"]
        queue = self.call(officer, "GET", "/api/v1/reviews/certifications", params={"status": "pending"})
        assert any(item["id"] == cert_id for item in queue["items"]), "the certification is not in the queue"
        decided = self.call(
            officer,
            "POST",
            f"/api/v1/reviews/certifications/{cert_id}/decisions",
            json={"decision": "approve", "reason": "diploma checked against the national database"},
        )
        if decided["status"] != expected:
            raise Failed(f"expected status {expected}, got {decided['status']}")
        if expected == "certified":
            self.state["certified"] = True
        return f"{officer} approved it ({len(queue['items'])} in the queue): status {decided['status']}"

    def code(self) -> str:
        def certified() -> Any:
            talent = self.call("talent", "GET", "/api/v1/me/talent")
            return talent if talent["status"] == "certified" else None

        talent = self.eventually("talent certified", certified)
        code = self.call("talent", "GET", "/api/v1/me/code")
        svg = self.call("talent", "GET", "/api/v1/me/code.svg")
        self.state["code"] = code["code"]
        return (
            f"tier {talent['tier']}, {talent['points']} points, certified until {talent['certified_until']}\n"
            f"talent code {code['code'][:24]}… (expires {code['expires_at']}); QR image {len(svg)} bytes of SVG"
        )

    def verify(self) -> str:
        token = self.call(
            None,
            "POST",
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": "partner.hospital", "client_secret": DEV_SECRET},
        )
        self.tokens["partner.hospital"] = token["access_token"]
        result = self.call(
            "partner.hospital", "POST", "/api/v1/codes/verify", json={"code": self.state["code"], "scene": "hospital"}
        )
        return f"the hospital scanned it: {json.dumps(result, ensure_ascii=False)}"

    def auto_grant(self) -> str:
        def auto_claims() -> Any:
            return [c for c in self.call("talent", "GET", "/api/v1/me/claims")["items"] if c.get("auto")]

        [claim, *_] = self.eventually("an auto-granted claim", auto_claims)
        return f"免申即享: {claim['policy_code']} granted without asking, {_yuan(claim)} — status {claim['status']}"

    def claim(self) -> str:
        eligibility = self.call("talent", "GET", "/api/v1/me/eligibility")["items"]
        open_ = [e for e in eligibility if e["eligible"] and not e["claimed"]]
        lines = [f"eligible now: {', '.join(e['policy_code'] for e in open_) or 'nothing'}"]
        choice = next((e for e in open_ if e["policy_code"] == "RENT_SUBSIDY"), open_[0] if open_ else None)
        if choice is None:
            raise Failed("no policy to claim")
        details = {"months": 12} if choice["policy_code"] == "RENT_SUBSIDY" else {}
        claim = self.call(
            "talent", "POST", "/api/v1/me/claims", json={"policy_code": choice["policy_code"], "details": details}
        )
        self.state["claim"] = claim["id"]
        lines.append(f"one tap: {claim['policy_code']} claim {claim['id']} — {claim['status']}, {_yuan(claim)}")
        if claim.get("straight_through"):
            lines.append("  its facts carry the provenance its policy asks for: straight to 公示, no reviewer")
        elif claim.get("manual_review_reasons"):
            lines.append(f"  a reviewer decides it: {', '.join(claim['manual_review_reasons'])}")
        return "\n".join(lines)

    def approvals(self) -> str:
        # A clean claim went straight to 公示; the reviewers decide what waits for them (sampled, or a fact
        # not confirmed), the one-tap claim first.
        claims = self.call("talent", "GET", "/api/v1/me/claims")["items"]
        waiting = sorted((c for c in claims if c["status"] == "accepted"), key=lambda c: c["id"] != self.state["claim"])
        if not waiting:
            straight = [c["policy_code"] for c in claims if c.get("straight_through")]
            return f"nothing waits for a reviewer: {', '.join(straight)} went straight to 公示"
        claim_id = waiting[0]["id"]
        lines = [f"{waiting[0]['policy_code']} waits for review: {', '.join(waiting[0]['manual_review_reasons'])}"]
        for officer in ("reviewer.nanhu", "approver.city"):
            self.sign_in_official(officer)
            claim = self.call(
                officer,
                "POST",
                f"/api/v1/reviews/claims/{claim_id}/decisions",
                json={"decision": "approve", "reason": "rental contract and social insurance checked"},
            )
            lines.append(f"{officer} approved: status {claim['status']}")
        until = claim.get("publicized_until")
        lines.append(f"公示 (public notice) until {until}; finance pays it after that (POST …/disbursement)")
        notices = self.call(None, "GET", "/api/v1/claims/publicized")["items"]
        lines.append(f"{len(notices)} claim(s) on public notice now, shown by pseudonym only")
        return "\n".join(lines)

    def inbox(self) -> str:
        def some() -> Any:
            return self.call("talent", "GET", "/api/v1/me/inbox")["items"]

        items = self.eventually("inbox notifications", some)
        return "\n".join([f"{len(items)} notification(s), newest first:"] + [f"· {n['title']}" for n in items[:6]])

    def housing_round(self) -> str:
        self.sign_in_official("housing.city")
        officer = "housing.city"
        suffix = random.randint(1000, 9999)  # noqa: S311
        project = self.call(
            officer,
            "POST",
            "/api/v1/housing/projects",
            json={
                "name": f"南湖人才公寓 {suffix}",
                "region_code": "330402",
                "supply_model": "government",
                "address": "嘉兴市南湖区示例路 1 号",
            },
        )
        units = self.call(
            officer,
            "POST",
            f"/api/v1/housing/projects/{project['id']}/units",
            json={
                "units": [
                    {"number": f"{suffix}-101", "unit_type": "1BR", "area_m2": 45.0, "monthly_rent_fen": 180000},
                    {"number": f"{suffix}-102", "unit_type": "studio", "area_m2": 32.5, "monthly_rent_fen": 120000},
                ]
            },
        )["items"]
        closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        round_ = self.call(
            officer,
            "POST",
            "/api/v1/housing/rounds",
            json={"name": f"2026 第{suffix}批", "unit_ids": [u["id"] for u in units], "closes_at": closes_at},
        )
        application = self.call(
            "talent",
            "POST",
            f"/api/v1/housing/rounds/{round_['id']}/applications",
            json={"preferred_project_ids": [project["id"]], "household_size": 1},
        )
        closed = self.call(officer, "POST", f"/api/v1/housing/rounds/{round_['id']}/close")
        drawn = self.call(officer, "POST", f"/api/v1/housing/rounds/{round_['id']}/draw")
        check = hashlib.sha256(bytes.fromhex(drawn["seed"])).hexdigest() == closed["seed_commitment"]
        results = self.call(None, "GET", f"/api/v1/housing/rounds/{round_['id']}/results")["items"]
        self.state["round"] = round_["id"]
        return (
            f"project {project['name']} with {len(units)} units; round {round_['name']} opened\n"
            f"the talent applied ({application['status']}); closed with commitment {closed['seed_commitment'][:16]}…\n"
            f"drawn: seed {drawn['seed'][:16]}…, sha256(seed) == commitment: {check}; {len(results)} ranked"
        )

    def lease(self) -> str:
        def offers() -> Any:
            mine = self.call("talent", "GET", "/api/v1/me/housing")
            return [o for o in mine["offers"] if o["status"] == "open"]

        [offer, *_] = self.eventually("a housing offer", offers)
        lease = self.call("talent", "POST", f"/api/v1/me/housing/offers/{offer['id']}/accept")
        return (
            f"offer for unit {offer.get('unit_number', offer['unit_id'])} (answer by {offer['expires_at']}) accepted\n"
            f"lease {lease['starts_on']} → {lease['ends_on']}, rent ¥{lease['monthly_rent_fen'] / 100:,.2f} a month"
        )

    def run(self) -> int:
        print(f"人才码 demo against {self.http.base_url}")
        try:
            health = self.http.get("/readyz", timeout=5.0)
        except httpx.HTTPError as exc:
            print(f"\nThe gateway does not answer at {self.http.base_url} ({exc}).")
            print("Start the platform with `make run` (or pass --base-url).")
            return 2
        print(f"gateway readiness: {health.status_code} {health.text[:200]}")
        steps: list[tuple[str, tuple[str, ...], Callable[[], str]]] = [
            ("Sign in as a talent (one-time code)", (), self.sign_in),
            ("Store the profile", ("talent",), self.profile),
            ("The employer (employer.demo) finds the talent on its staff", ("profile",), self.employer_staff),
            ("The employer attests the employment at the source", ("staff_member",), self.attest),
            ("The employer files a recommendation (举荐)", ("staff_member",), self.recommend),
            ("The employer declares open posts; the public list shows them", (), self.demand),
            ("Ask for certification with evidence", ("profile",), self.certification),
            (
                "County review (初审) by reviewer.nanhu",
                ("certification",),
                lambda: self.decide_certification("reviewer.nanhu", "county_approved"),
            ),
            (
                "City review (复审) by approver.city",
                ("certification",),
                lambda: self.decide_certification("approver.city", "certified"),
            ),
            ("The talent code", ("certified",), self.code),
            ("A partner (hospital) verifies the code", ("code",), self.verify),
            ("免申即享: the auto-granted claim", ("certified",), self.auto_grant),
            ("One-tap claim", ("certified",), self.claim),
            ("What still waits for a reviewer (county, then city)", ("claim",), self.approvals),
            ("The inbox", ("talent",), self.inbox),
            ("A housing round: apply, close, draw", ("certified",), self.housing_round),
            ("Accept the offer: the lease", ("round",), self.lease),
        ]
        for title, needs, action in steps:
            try:
                self.step(title, needs, action)
            except Failed as exc:
                print(f"    ✗ failed: {exc}")
                print(f"\n{self.done} step(s) done, {len(self.skipped)} skipped, stopped at: {title}")
                return 1
        print(f"\nDone: {self.done} step(s) shown, {len(self.skipped)} skipped", end="")
        print(f" ({'; '.join(self.skipped)})." if self.skipped else ".")
        print(f"Now open {self.http.base_url}app/ (talent) and {self.http.base_url}console/ (officials).")
        return 0


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


def _yuan(claim: dict[str, Any]) -> str:
    fen = claim.get("amount_fen")
    return "no cash amount" if fen is None else f"¥{fen / 100:,.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/", help="the gateway (default %(default)s)")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds to wait for events to arrive")
    args = parser.parse_args(argv)
    base = args.base_url if args.base_url.endswith("/") else args.base_url + "/"
    return Walk(base, args.wait).run()


if __name__ == "__main__":
    sys.exit(main())
