"""Harness throughput, and the `swapdiff bench` command.

Measures, in one process and one run, the world actions per second of the Hypothesis state
machine (`fuzz.hypothesis_round`, full lockstep: both implementations, snapshots and
invariants after every call) and of fast mode (`fuzz.fast`: reference step by step, the
candidate in batch), on the same profile and candidate, after a warm-up that compiles the
candidate's kernels.  Their ratio is the fast-mode speed-up (target: at least 20x).

`swapdiff bench` prints the implementation benchmarks of `fuzz.bench` (when present) and
then these rows, in `fuzz.bench`'s row format: `kind` ("harness"), `name`, `value`, `unit`,
`target`, `ok`.  Rows "hypothesis_steps_per_s" and "fast_steps_per_s" (unit steps/s, no
target) add `steps`, `ops`, `seconds`, `ops_per_s`; row "fast_vs_hypothesis" is their ratio
(unit x, target 20).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from fuzz.impls import resolve


def measure_fast(
    reference_cls: type, candidate_cls: type, *, seconds: float, profile: str, seed: int
) -> dict:
    from fuzz.fast import run_episode

    steps = ops = episodes = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        result = run_episode(
            reference_cls, candidate_cls, seed=seed * 1000 + episodes, steps=2000, profile=profile
        )
        steps, ops, episodes = steps + result.steps, ops + result.ops, episodes + 1
    return _row("fast_steps_per_s", steps, ops, time.perf_counter() - started)


def measure_hypothesis(
    reference_cls: type, candidate_cls: type, *, seconds: float, profile: str, seed: int
) -> dict:
    from fuzz.hypothesis_round import run_round

    steps = ops = rounds = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        result = run_round(
            reference_cls, candidate_cls, seed=seed * 1000 + rounds, profile=profile, max_examples=5
        )
        steps, ops, rounds = steps + result.steps, ops + result.ops, rounds + 1
    return _row("hypothesis_steps_per_s", steps, ops, time.perf_counter() - started)


TARGET_RATIO = 20.0
SHOWN = {
    "hypothesis_steps_per_s": "hypothesis machine",
    "fast_steps_per_s": "fast mode",
    "fast_vs_hypothesis": "fast / hypothesis",
}


def _row(name: str, steps: int, ops: int, seconds: float) -> dict:
    return {
        "kind": "harness",
        "name": name,
        "value": round(steps / seconds, 1) if seconds else 0.0,
        "unit": "steps/s",
        "target": None,
        "ok": None,
        "steps": steps,
        "ops": ops,
        "seconds": round(seconds, 3),
        "ops_per_s": round(ops / seconds, 1) if seconds else 0.0,
    }


def harness_rows(
    *, impl: str = "optimized", profile: str = "default", seconds: float = 5.0, seed: int = 0
) -> list:
    """Hypothesis and fast-mode throughput on the same candidate, and their ratio."""
    reference_cls, candidate_cls = resolve("reference"), resolve(impl)
    measure_fast(reference_cls, candidate_cls, seconds=0.1, profile=profile, seed=seed + 1)  # compile
    hyp = measure_hypothesis(reference_cls, candidate_cls, seconds=seconds, profile=profile, seed=seed)
    fast = measure_fast(reference_cls, candidate_cls, seconds=seconds, profile=profile, seed=seed)
    ratio = round(fast["value"] / hyp["value"], 1) if hyp["value"] else float("inf")
    summary = {
        "kind": "harness",
        "name": "fast_vs_hypothesis",
        "value": ratio,
        "unit": "x",
        "target": TARGET_RATIO,
        "ok": ratio >= TARGET_RATIO,
    }
    return [hyp, fast, summary]


def print_rows(rows: Sequence[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="swapdiff bench: harness throughput (world actions, same run)")
    for column in ("measure", "steps", "ops", "seconds", "steps/s", "ops/s", "target", "ok"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for row in rows:
        if row["unit"] == "x":
            ok = "[green]yes[/]" if row["ok"] else "[red]NO[/]"
            table.add_row(
                SHOWN[row["name"]], "", "", "", f"{row['value']:.1f}x", "", f">= {row['target']:g}x", ok
            )
            continue
        table.add_row(
            SHOWN[row["name"]],
            f"{row['steps']:,}",
            f"{row['ops']:,}",
            f"{row['seconds']:.1f}",
            f"{row['value']:,.0f}",
            f"{row['ops_per_s']:,.0f}",
            "",
            "-",
        )
    Console().print(table)


def main(argv: Sequence[str]) -> int:
    """`swapdiff bench [--seconds S] [--impl SPEC] [--profile NAME] [--json FILE] [--harness-only]`."""
    from fuzz.args import OneLineParser, UsageError

    parser = OneLineParser(prog="swapdiff bench", description="Implementation and harness benchmarks.")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per harness measurement")
    parser.add_argument("--impl", default="optimized", metavar="SPEC", help="candidate for the harness rows")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every row as JSON")
    parser.add_argument("--harness-only", action="store_true", help="skip the implementation benchmarks")
    args = parser.parse_args(list(argv))
    if not args.seconds > 0:
        raise UsageError("--seconds must be positive", prog="swapdiff bench")
    rows: list[dict[str, Any]] = []
    if not args.harness_only:
        rows.extend(_implementation_rows())
    harness = harness_rows(impl=args.impl, profile=args.profile, seconds=args.seconds)
    print_rows(harness)
    rows.extend(harness)
    if args.json:
        from fuzz.trace import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


def _implementation_rows() -> list[dict[str, Any]]:
    try:
        from fuzz import bench
    except ImportError:
        print("fuzz.bench is not available: implementation benchmarks skipped", file=sys.stderr)
        return []
    rows = list(bench.run_bench())
    bench.print_bench(rows)
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
