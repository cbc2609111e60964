"""Administrators keep the trust list of partner cities (互认城市) in the console, in a real browser: add a city with
a pasted key set and a tier map, see it listed, a key set holding a private key refused in the form, and remove
the city in two clicks. Only administrators have the page."""

from __future__ import annotations

import json

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from playwright.async_api import Page, expect

from .browser import official_headers, sign_in_to_the_console, sign_out_of_the_console

CITY = "320600"  # 南通 (Nantong): a code no other test registers


def _key_set(*, with_private: bool = False) -> str:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = jwk.construct(pem, "ES256")
    public = (key if with_private else key.public_key()).to_dict()
    public.update({"kid": "nt-1", "use": "sig", "alg": "ES256"})
    return json.dumps({"keys": [public]})


async def open_trust_page(console: Page) -> None:
    await sign_in_to_the_console(console, "admin")
    nav = console.get_by_role("navigation", name="主导航")
    await nav.get_by_role("link", name="互认城市").click()
    await expect(console.get_by_role("heading", name="添加或修改互认城市")).to_be_visible()


class TestAdministratorsKeepTheTrustList:
    async def test_add_a_partner_city_with_a_tier_map_then_remove_it(
        self, console: Page, gateway: httpx.AsyncClient
    ) -> None:
        await open_trust_page(console)
        await console.get_by_label("城市代码").fill(CITY)
        await console.get_by_label("名称", exact=True).fill("南通市")
        await console.get_by_label("密钥集地址").fill(
            "https://talent.nantong.example/.well-known/talent-code/jwks.json"
        )
        await console.get_by_label("密钥集（JWKS）").fill(_key_set())
        await console.get_by_label("对方 A 类").select_option("B")
        await console.get_by_label("对方 E 类").select_option("")  # not recognised
        await console.get_by_role("button", name="保存").click()

        row = console.locator(f'tr[data-city="{CITY}"]')
        await expect(row).to_contain_text("南通市")
        await expect(row.get_by_test_id("tier-map")).to_have_text("A→B B→B C→C D→D")
        listed = await gateway.get("/api/v1/trust/cities")
        [item] = [c for c in listed.json()["items"] if c["city_code"] == CITY]
        assert item["tier_map"] == {"A": "B", "B": "B", "C": "C", "D": "D"}

        await row.get_by_test_id("remove-city").click()
        await row.get_by_test_id("remove-city").click()  # the second click removes
        await expect(console.locator(f'tr[data-city="{CITY}"]')).to_have_count(0)
        admin = await official_headers(gateway, "admin")
        cities = (await gateway.get("/api/v1/admin/trust/cities", headers=admin)).json()
        assert CITY not in [c["city_code"] for c in cities]

    async def test_a_key_set_with_a_private_key_is_refused_in_the_form(self, console: Page) -> None:
        await open_trust_page(console)
        await console.get_by_label("城市代码").fill(CITY)
        await console.get_by_label("名称", exact=True).fill("南通市")
        await console.get_by_label("密钥集地址").fill("https://talent.nantong.example/jwks.json")
        await console.get_by_label("密钥集（JWKS）").fill(_key_set(with_private=True))
        await console.get_by_role("button", name="保存").click()
        # In the console's language (zh-CN): the applicant answers in the caller's Accept-Language.
        await expect(console.get_by_test_id("trust-problem")).to_contain_text("私钥")
        await expect(console.locator(f'tr[data-city="{CITY}"]')).to_have_count(0)

    async def test_only_administrators_see_the_page(self, console: Page) -> None:
        await sign_in_to_the_console(console, "auditor.city")
        nav = console.get_by_role("navigation", name="主导航")
        await expect(nav.get_by_role("link", name="互认城市")).to_have_count(0)
        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "admin")
        await expect(nav.get_by_role("link")).to_have_text(
            ["公示", "用人单位", "互认城市", "统计", "成本结算", "我的消息"]
        )
