"""`housing serve|worker|migrate|replay`, and `housing verify-draw` (recompute a published draw)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from servicekit.cli import run_cli

from housing import draw
from housing.rules import HOUSING_RULES, RULES

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "verify-draw":
        sys.exit(verify_draw_command(sys.argv[2:]))
    from housing.config import get_settings
    from housing.main import definition

    run_cli(definition, get_settings, ALEMBIC_INI, default_port=8003)


def _fetch_json(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def _fetch_all_results(client: httpx.Client, url: str) -> dict[str, Any]:
    """Every page of /results, merged into one document."""
    document: dict[str, Any] = _fetch_json(client, url)
    items = list(document["items"])
    while document.get("next_cursor"):
        separator = "&" if "?" in url else "?"
        document = _fetch_json(client, f"{url}{separator}cursor={document['next_cursor']}")
        items.extend(document["items"])
    return {**document, "items": items, "next_cursor": None}


def load_results(source: str) -> dict[str, Any]:
    """A results document from a file or URL; a bare list of rows is accepted too."""
    if source.startswith(("http://", "https://")):
        with httpx.Client(timeout=30.0) as client:
            return _fetch_all_results(client, source)
    raw = json.loads(Path(source).read_text(encoding="utf-8"))
    return {"items": raw} if isinstance(raw, list) else dict(raw)


def verify_draw_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="housing verify-draw",
        description="Recompute a housing round's ranking from its public results and revealed seed.",
    )
    parser.add_argument("--results", help="the results JSON: a file, or the /results URL (all pages are fetched)")
    parser.add_argument("--base-url", help="the platform's base URL (with --round): fetch the round and its results")
    parser.add_argument("--round", dest="round_id", help="the round id (with --base-url)")
    parser.add_argument("--seed", help="the revealed seed (hex); default: the one in the results")
    parser.add_argument("--units", type=int, help="the round's unit count; default: from the results")
    parser.add_argument("--tier-quotas", help='JSON like {"E": 10}; default: from the results')
    parser.add_argument("--save", help="also write the fetched results document to this file")
    args = parser.parse_args(argv)

    commitment: str | None = None
    if args.base_url and args.round_id:
        base = args.base_url.rstrip("/")
        with httpx.Client(timeout=30.0) as client:
            round_ = _fetch_json(client, f"{base}/api/v1/housing/rounds/{args.round_id}")
            document = _fetch_all_results(client, f"{base}/api/v1/housing/rounds/{args.round_id}/results")
        commitment = round_.get("seed_commitment")
    elif args.results:
        document = load_results(args.results)
    else:
        parser.error("give --results FILE|URL, or --base-url URL --round ID")
    if args.save:
        Path(args.save).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")

    seed = args.seed or document.get("seed")
    if not seed:
        parser.error("the results carry no seed: pass --seed HEX")
    unit_count = args.units if args.units is not None else document.get("unit_count")
    if unit_count is None:
        parser.error("the results do not say how many units the round had: pass --units N")
    quotas = json.loads(args.tier_quotas) if args.tier_quotas else document.get("tier_quotas") or {}
    commitment = commitment or document.get("seed_commitment")

    outcome = draw.verify(
        document["items"],
        seed,
        unit_count=int(unit_count),
        tier_quotas=quotas,
        seed_commitment_hex=commitment,
        tier_order=RULES.get(HOUSING_RULES).value.tier_order,
    )
    if outcome.matches:
        checked = "and sha256(seed) equals the published commitment" if commitment else "(no commitment to check)"
        print(f"MATCH: {outcome.checked} applications in the published order, recomputed from the seed {checked}.")
        return 0
    print(f"MISMATCH: {len(outcome.problems)} problem(s) in {outcome.checked} published rows:")
    for problem in outcome.problems:
        print(f"  - {problem}")
    return 1


if __name__ == "__main__":
    main()
