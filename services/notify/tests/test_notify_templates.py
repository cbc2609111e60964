"""Every event type in contracts is either notified (with a template in each locale) or deliberately not,
and every template renders with a sample of its event without an unknown variable."""

from __future__ import annotations

from typing import Any

import pytest
from contracts import EVENT_TYPES, PARTNER_VISIBLE_TYPES, model_for
from notify import catalogue, officials, templates

CATALOGUE = catalogue.load()
NOTIFIED = sorted(CATALOGUE.event_categories)
REMINDERS = sorted(CATALOGUE.reminders.values(), key=lambda r: r.name)


class TestCoverage:
    def test_every_contract_event_type_is_notified_or_listed_as_deliberately_not(self) -> None:
        undecided = set(EVENT_TYPES) - set(CATALOGUE.event_categories) - set(CATALOGUE.not_notified)
        assert not undecided, f"decide whether to notify these (catalogue.json): {sorted(undecided)}"

    def test_the_not_notified_list_names_only_real_types_each_with_a_reason(self) -> None:
        for event_type, reason in CATALOGUE.not_notified.items():
            assert event_type in EVENT_TYPES and len(reason) > 20

    @pytest.mark.parametrize("locale", templates.LOCALES)
    def test_every_notified_type_and_reminder_has_a_template_in_each_locale(self, locale: str) -> None:
        present = set(templates.template_names())
        wanted = {f"{name}.{locale}.j2" for name in [*NOTIFIED, *(r.template for r in REMINDERS)]}
        assert not wanted - present, f"missing templates: {sorted(wanted - present)}"

    def test_no_template_is_left_over_for_a_type_no_longer_notified(self) -> None:
        names = {n.rsplit(".", 2)[0] for n in templates.template_names()}
        assert names == set(NOTIFIED) | {r.template for r in REMINDERS} | set(officials.TEMPLATES)

    def test_every_type_a_partner_kind_sees_by_default_has_a_payload_allow_list(self) -> None:
        for types in PARTNER_VISIBLE_TYPES.values():
            for event_type in types:
                assert event_type in CATALOGUE.partner_payload_fields

    def test_partner_payload_allow_lists_name_only_real_fields_and_nothing_personal(self) -> None:
        personal = {"talent_id", "name", "phone", "email", "id_number", "email_sealed", "phone_sealed", "reason"}
        for event_type, fields in CATALOGUE.partner_payload_fields.items():
            assert set(fields) <= set(model_for(event_type).model_fields), event_type
            assert not set(fields) & personal, event_type


def _render_all(sample: Any, filled: bool) -> None:
    for event_type in NOTIFIED:
        data = sample(model_for(event_type), filled=filled)
        for locale in templates.LOCALES:
            rendered = templates.render(event_type, locale, data.model_dump())
            assert rendered.title and rendered.body, f"{event_type}.{locale} rendered empty"
            assert "None" not in rendered.title + rendered.body, f"{event_type}.{locale} shows a None"
    for reminder in REMINDERS:
        data = sample(model_for(reminder.on), filled=filled)
        for locale in templates.LOCALES:
            rendered = templates.render(reminder.template, locale, data.model_dump())
            assert rendered.title and rendered.body


class TestRendering:
    def test_every_template_renders_with_every_field_of_its_event_set(self, sample: Any) -> None:
        _render_all(sample, filled=True)

    def test_every_template_renders_with_only_the_required_fields(self, sample: Any) -> None:
        _render_all(sample, filled=False)

    def test_a_template_naming_an_unknown_variable_fails_loudly(self) -> None:
        from jinja2 import UndefinedError

        environment = templates.environment()
        with pytest.raises(UndefinedError):
            environment.from_string("{{ no_such_field }}").render()

    def test_times_show_in_the_readers_time_zone_and_money_in_yuan(self, sample: Any) -> None:
        from contracts import ClaimPublicized

        data = sample(ClaimPublicized, amount_fen=500000)  # publicized_until 2027-03-01 09:30 UTC
        shanghai = templates.render(ClaimPublicized.type, "en", data.model_dump(), time_zone="Asia/Shanghai")
        london = templates.render(ClaimPublicized.type, "en", data.model_dump(), time_zone="Europe/London")
        assert "2027-03-01 17:30" in shanghai.body and "2027-03-01 09:30" in london.body
        assert "CNY 5,000.00" in shanghai.body
        assert "¥5,000.00" in templates.render(ClaimPublicized.type, "zh-CN", data.model_dump()).body


class TestClaimTexts:
    def test_an_appeal_received_and_decided_say_so_and_what_comes_next(self, sample: Any) -> None:
        from contracts import ClaimDecided, ClaimSubmitted

        received = sample(ClaimSubmitted, policy_code="HEALTH_CHECK", status="appealed", auto=False)
        en = templates.render(ClaimSubmitted.type, "en", received.model_dump())
        assert en.title.startswith("Appeal received") and "10 working days" in en.body
        assert "复议申请已收到" in templates.render(ClaimSubmitted.type, "zh-CN", received.model_dump()).body
        overturned = sample(ClaimDecided, stage="appeal", decision="approve", status="city_approved", reason="ok")
        upheld = sample(ClaimDecided, stage="appeal", decision="reject", status="rejected", reason="stands")
        assert "overturned" in templates.render(ClaimDecided.type, "en", overturned.model_dump()).title
        assert "final" in templates.render(ClaimDecided.type, "en", upheld.model_dump()).body
        assert "维持原决定" in templates.render(ClaimDecided.type, "zh-CN", upheld.model_dump()).title
        rejected = sample(ClaimDecided, stage="county", decision="reject", status="rejected", reason="no")
        assert "appeal (复议) within 15 days" in templates.render(ClaimDecided.type, "en", rejected.model_dump()).body

    @pytest.mark.parametrize(
        ("reason", "en_words", "zh_words"),
        [
            ("stopped: a talent-apartment lease started", "lease started", "租约已开始"),
            ("stopped: the talent's certification was revoked", "certification was revoked", "人才认定已被撤销"),
            ("stopped: a housing voucher was used", "housing voucher", "人才房票"),
        ],
    )
    def test_a_stopped_claim_says_why_and_that_it_is_no_rejection(
        self, sample: Any, reason: str, en_words: str, zh_words: str
    ) -> None:
        from contracts import ClaimDecided

        stopped = sample(ClaimDecided, stage="city", decision="reject", status="stopped", reason=reason)
        en = templates.render(ClaimDecided.type, "en", stopped.model_dump())
        zh = templates.render(ClaimDecided.type, "zh-CN", stopped.model_dump())
        assert "stopped" in en.title and en_words in en.body and "nothing to appeal" in en.body
        assert "已终止" in zh.title and zh_words in zh.body and "stopped:" not in zh.body
