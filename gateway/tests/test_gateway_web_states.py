"""The web apps' status lists come from the services' enums and transition tables, through one generated file."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parents[2]
GENERATOR = REPOSITORY / "scripts" / "generate_web_states.py"
WEB = REPOSITORY / "gateway" / "src" / "gateway" / "web"
# Every status value any service defines, as the generated module lists them.
STATES_MODULE = WEB / "common" / "states.js"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_web_states", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestWebStates:
    def test_the_committed_module_is_what_the_services_define_now(self) -> None:
        wanted = _generator().generate()
        assert STATES_MODULE.read_text(encoding="utf-8") == wanted, (
            "gateway/src/gateway/web/common/states.js is stale: run `make web-states` "
            "(uv run --frozen python scripts/generate_web_states.py) and commit it."
        )

    def test_the_talents_claim_steps_follow_the_claim_flow(self) -> None:
        constants = _generator().constants()
        assert constants["CLAIM_PATH"] == ["accepted", "county_approved", "city_approved", "publicized", "disbursed"]
        assert "submitted" not in constants["CLAIM_LISTED"]  # never at rest, so never a filter

    def test_no_web_module_keeps_its_own_copy_of_a_status_list(self) -> None:
        # A list literal of two or more quoted status values is a hand-kept copy; the generated module has them.
        constants = _generator().constants()
        enums = [value for name, value in constants.items() if isinstance(value, dict) and not name.endswith("_ROLE")]
        statuses = {status for members in enums for status in members.values()}
        quoted = "|".join(sorted(re.escape(s) for s in statuses))
        hand_list = re.compile(rf'\[\s*"(?:{quoted})"\s*,\s*"(?:{quoted})"')
        offenders = [
            f"{path.relative_to(WEB)}:{number}"
            for path in sorted(WEB.rglob("*.js"))
            if path != STATES_MODULE
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if hand_list.search(line)
        ]
        assert offenders == [], f"status lists kept by hand: {offenders}"
