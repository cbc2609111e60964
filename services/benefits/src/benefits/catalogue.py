"""The policy catalogue as data: the seed file shipped with the package, and rows <-> rules.

`data/policies.v<N>.json` is versioned: a migration loads one file by name, so changing the default
catalogue later means a new file and a new migration, never an edit that rewrites history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from benefits.models import BenefitPolicy
from benefits.schemas import PolicyCreate, PolicyPublic, PolicyRules, StraightThroughRules

SEED_V1 = "policies.v1.json"
RULE_FIELDS = frozenset({"eligibility", "limits", "amount", "review", "budget", "effects", "straight_through"})


def load_seed(name: str = SEED_V1) -> list[PolicyCreate]:
    """The policies of a seed file, validated like an administrator's POST."""
    raw: dict[str, Any] = json.loads(resources.files("benefits").joinpath(f"data/{name}").read_text(encoding="utf-8"))
    return [PolicyCreate.model_validate(item) for item in raw["policies"]]


def load_straight_through_seed(name: str) -> dict[str, StraightThroughRules]:
    """The straight-through rules of a seed file, by policy code, validated like an administrator's PUT."""
    raw: dict[str, Any] = json.loads(resources.files("benefits").joinpath(f"data/{name}").read_text(encoding="utf-8"))
    return {code: StraightThroughRules.model_validate(rules) for code, rules in raw["policies"].items()}


def rules_json(body: PolicyRules) -> dict[str, Any]:
    """The rule part of a policy as stored in benefit_policy.rules."""
    data: dict[str, Any] = body.model_dump(mode="json", include=set(RULE_FIELDS))
    return data


def seed_rows(name: str, created_at: datetime) -> list[dict[str, Any]]:
    """Rows of benefit_policy (version 1 of each policy) for a migration's bulk insert."""
    return [
        {
            "code": policy.code,
            "version": 1,
            "current": True,
            "name": policy.name,
            "name_en": policy.name_en,
            "description": policy.description,
            "auto_grant": policy.auto_grant,
            "active": policy.active,
            "rules": rules_json(policy),
            "created_at": created_at,
            "created_by": "seed",
            "change_reason": f"default catalogue ({name})",
        }
        for policy in load_seed(name)
    ]


@dataclass(frozen=True)
class Policy:
    """One stored policy version with its rules parsed."""

    row: BenefitPolicy
    rules: PolicyRules

    @property
    def code(self) -> str:
        return self.row.code

    @property
    def version(self) -> int:
        return self.row.version

    @classmethod
    def of(cls, row: BenefitPolicy) -> Policy:
        rules = PolicyRules.model_validate(
            {
                "name": row.name,
                "name_en": row.name_en,
                "description": row.description,
                "auto_grant": row.auto_grant,
                "active": row.active,
                **row.rules,
            }
        )
        return cls(row, rules)

    def public(self) -> PolicyPublic:
        return PolicyPublic.model_validate(
            {
                **self.rules.model_dump(),
                "code": self.code,
                "version": self.version,
                "created_at": self.row.created_at,
                "created_by": self.row.created_by,
                "change_reason": self.row.change_reason,
            }
        )


@dataclass(frozen=True)
class Catalogue:
    """The current version of every policy, parsed; kept per process and checked once per transaction."""

    fingerprint: tuple[Any, ...]
    by_code: Mapping[str, Policy]

    def auto_grant(self) -> list[Policy]:
        return [p for code, p in sorted(self.by_code.items()) if p.row.active and p.row.auto_grant]
