"""Every event type in contracts is either notified (with a template in each locale) or deliberately not,
and every template renders with a sample of its event without an unknown variable."""

from __future__ import annotations

from typing import Any

import pytest
from contracts import EVENT_TYPES, PARTNER_VISIBLE_TYPES, model_for
from notify import catalogue, templates

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
        assert names == set(NOTIFIED) | {r.template for r in REMINDERS}

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
