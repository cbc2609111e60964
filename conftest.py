"""Fixtures every test suite shares: one real broker per session and the gateway's stand-in keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servicekit.testing import TansuBroker, TestKeys

# pytest's importlib mode names gateway/tests/conftest.py "gateway.tests.conftest" and would make the
# repository's gateway/ folder a stand-in `gateway` package; importing the real one first prevents that.
import gateway  # noqa: F401


@pytest.fixture(scope="session")
def broker() -> Iterator[TansuBroker]:
    instance = TansuBroker().start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def test_keys() -> TestKeys:
    return TestKeys()
