"""The talent's housing messages name a flat by its number, never by a unit id, and say why a lease ended in
words, in both languages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from contracts.events import LeaseEnded, OfferAccepted, OfferMade
from notify import templates

UNIT_ID = "3f1c9b52-8d2e-4a57-9a0b-1d2e3f4a5b6c"


@pytest.mark.parametrize("locale", templates.LOCALES)
class TestHousingTexts:
    def test_an_offer_names_the_units_number_not_its_id(self, locale: str) -> None:
        made = OfferMade(
            offer_id="o-1", round_id="r-1", unit_id=UNIT_ID, unit_number="3-1201", talent_id="t-1",
            expires_at=datetime(2026, 12, 5, 1, 30, tzinfo=UTC),
        )  # fmt: skip
        for event in (
            made,
            OfferAccepted(offer_id="o-1", round_id="r-1", unit_id=UNIT_ID, unit_number="3-1201", talent_id="t-1"),
        ):
            text = templates.render(event.type, locale, event.model_dump())
            assert "3-1201" in text.body and UNIT_ID not in text.title + text.body

    def test_an_event_from_before_unit_numbers_shows_a_short_reference_not_the_whole_id(self, locale: str) -> None:
        event = OfferAccepted(offer_id="o-1", round_id="r-1", unit_id=UNIT_ID, talent_id="t-1")
        text = templates.render(event.type, locale, event.model_dump())
        assert UNIT_ID not in text.body and UNIT_ID[:8] in text.body

    def test_a_lease_end_says_why_in_words(self, locale: str) -> None:
        event = LeaseEnded(
            lease_id="l-1", talent_id="t-1", unit_id=UNIT_ID, unit_number="3-1201", ended_on=date(2026, 12, 1),
            reason="moved_out",
        )  # fmt: skip
        body = templates.render(event.type, locale, event.model_dump()).body
        assert "moved_out" not in body and ("本人退租" if locale == "zh-CN" else "you moved out") in body
