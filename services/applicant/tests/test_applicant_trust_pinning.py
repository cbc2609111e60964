"""Outside dev, a partner city's key set and status list are fetched over pinned connections: the city's host name
is resolved once per connection, every answer must be public, and the connection goes to the address checked,
with TLS (SNI and the certificate) for the name. A name that rebinds to the platform's own network reaches nothing.

Loopback only: the city's "public" address is a stand-in the test network carries to the city's loopback server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from applicant.codes import PREFIX, CodeRejected
from applicant.trust.jwks import JwksRefused, fetch_jwks
from applicant.trust.status import PartnerStatusLists
from jose import jws
from servicekit.safe_http import Network
from servicekit.testing_network import Certificates, LoopbackOnlyNetwork, ScriptedResolver

from .test_applicant_foreign_status import CITY_B, City

PUBLIC = "93.184.216.34"  # city B's address as its name answers it: a stand-in, carried to loopback
ORIGIN = "https://keys.city-b.example"


@pytest.fixture
def certificates() -> Certificates:
    return Certificates.for_name("keys.city-b.example")


@pytest.fixture
def city_b(certificates: Certificates) -> Iterator[City]:
    """City B serving https for its name, on a loopback port."""
    city = City(CITY_B)
    city.server.socket = certificates.server_context.wrap_socket(city.server.socket, server_side=True)
    city.sub = f"{ORIGIN}/status-list"  # the list names the URI it is published at
    yield city
    city.close()


@pytest.fixture
def network(city_b: City) -> LoopbackOnlyNetwork:
    network = LoopbackOnlyNetwork()
    network.route(PUBLIC, 443, city_b.server.server_address[1])
    return network


class TestPinnedFetches:
    async def test_a_key_set_is_fetched_from_the_checked_address_with_tls_for_the_name(
        self, city_b: City, network: LoopbackOnlyNetwork, certificates: Certificates
    ) -> None:
        resolver = ScriptedResolver([[PUBLIC], ["127.0.0.1"]])  # a second lookup would answer the loopback
        key_set = await fetch_jwks(
            f"{ORIGIN}/jwks.json",
            allow_private=False,
            timeout_s=5.0,
            network=Network(resolver, network, certificates.client_context()),
        )
        assert [key["kid"] for key in key_set["keys"]] == [city_b.kid]
        assert resolver.asked == [("keys.city-b.example", 443)]
        assert network.asked == [(PUBLIC, 443)]
        assert network.tls_server_names == ["keys.city-b.example"]

    async def test_a_status_list_is_fetched_from_the_checked_address_never_from_the_next_answer(
        self, city_b: City, network: LoopbackOnlyNetwork, certificates: Certificates
    ) -> None:
        resolver = ScriptedResolver([[PUBLIC], ["127.0.0.1"]])
        lists = PartnerStatusLists(
            allow_private=False,
            refetch_min_s=0,
            timeout_s=5.0,
            network=Network(resolver, network, certificates.client_context()),
        )
        city_b.revoked = {5}
        row = city_b.row()
        row.jwks_url = f"{ORIGIN}/jwks.json"
        code = city_b.code(5, uri=f"{ORIGIN}/status-list")
        claims = json.loads(jws.get_unverified_claims(code.removeprefix(PREFIX)))
        with pytest.raises(CodeRejected) as refused:
            await lists.check(row, claims["status"], city_b.key_of, datetime.now(UTC))
        assert refused.value.reason == "revoked"
        assert city_b.list_requests == 1
        assert resolver.asked == [("keys.city-b.example", 443)]
        assert network.asked == [(PUBLIC, 443)] and network.tls_server_names == ["keys.city-b.example"]

    @pytest.mark.parametrize("answer", [["127.0.0.1"], [PUBLIC, "10.0.0.7"], ["169.254.169.254"]])
    async def test_a_key_set_host_with_any_address_that_is_not_public_is_refused_before_connecting(
        self, network: LoopbackOnlyNetwork, certificates: Certificates, answer: list[str]
    ) -> None:
        with pytest.raises(JwksRefused) as refused:
            await fetch_jwks(
                f"{ORIGIN}/jwks.json",
                allow_private=False,
                timeout_s=5.0,
                network=Network(ScriptedResolver([answer]), network, certificates.client_context()),
            )
        assert refused.value.key == "applicant.invalid.jwks_url_private"
        assert network.asked == []

    async def test_a_status_list_host_that_rebinds_is_not_read_and_the_code_fails_closed(
        self, city_b: City, network: LoopbackOnlyNetwork, certificates: Certificates
    ) -> None:
        lists = PartnerStatusLists(
            allow_private=False,
            refetch_min_s=0,
            timeout_s=5.0,
            network=Network(ScriptedResolver([["127.0.0.1"]]), network, certificates.client_context()),
        )
        row = city_b.row()
        row.jwks_url = f"{ORIGIN}/jwks.json"
        code = city_b.code(5, uri=f"{ORIGIN}/status-list")
        claims = json.loads(jws.get_unverified_claims(code.removeprefix(PREFIX)))
        with pytest.raises(CodeRejected) as refused:
            await lists.check(row, claims["status"], city_b.key_of, datetime.now(UTC))
        assert refused.value.reason == "status_unavailable"
        assert network.asked == [] and city_b.list_requests == 0
