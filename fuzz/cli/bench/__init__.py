"""`swapdiff bench`: the implementation and harness benchmarks, printed as one table.

`implementations` measures the optimized model against the reference (batch ops/s, state
bytes per slot, cold compile and warm start); `harness` measures world steps/s of the
Hypothesis machine beside its trivial yardsticks (issue 25's first) and of fast mode; `lane`
measures the kernel lane's world steps/s on the host (and in a VM per `--vm KERNEL`).  Every row has `kind`,
`name`, `value`, `unit`, `target` (None without one) and `ok` (None without a target), and
`--json FILE` writes them all.  Benchmarks, not tests: nothing here asserts a speed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fuzz.cli.args import OneLineParser, UsageError, positive_int

OK_SHOWN = {True: "[green]yes[/]", False: "[red]NO[/]", None: "-"}


def measure_name(row: dict[str, Any]) -> str:
    """The table's name for a row of either kind."""
    if row["kind"] == "harness":
        from fuzz.cli.bench.harness import shown

        return f"harness: {shown(row['name'])}"
    return f"{row['kind']}: {row['name']}"


def work_done(row: dict[str, Any]) -> str:
    """What the measurement ran: ops and both rates for a trace, steps and ops for a harness rate."""
    if row["kind"] == "lane":
        if row["value"] is None:
            return f"not run: {row['skipped']}"
        return f"{row['steps']:,} steps in {row['seconds']:.1f} s, {row['cpu_s']:.1f} CPU s"
    if "cpu_ratio" in row:
        return f"over CPU seconds: {row['cpu_ratio']:.2f}x"
    if row["kind"] == "startup" and "cpu_s" in row:
        return f"fresh interpreter: {row['cpu_s']:.1f} CPU s"
    if row["kind"] == "trace":
        return (
            f"{row['ops']:,} ops; reference {row['reference_ops_per_s']:,.0f} ops/s, "
            f"optimized {row['optimized_ops_per_s']:,.0f} ops/s"
        )
    if row.get("unit") == "draws/step":
        return f"{row['steps']:,} steps, {row['ops']:,} draws"
    if "steps" in row and "seconds" in row:
        rate = f"{row['ops_per_s']:,.0f} ops/s"
        return f"{row['steps']:,} steps, {row['ops']:,} ops in {row['seconds']:.1f} s ({rate})"
    return ""


def target_shown(row: dict[str, Any]) -> str:
    target = row["target"]
    if target is None:
        return ""
    at_most = row["kind"] in ("memory", "startup")
    return f"{'<=' if at_most else '>='} {target:g} {row['unit']}"


def print_rows(rows: Sequence[dict[str, Any]], console: Any = None) -> None:
    """Every row in one rich table: measure, work, value, target, ok."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="swapdiff bench")
    for column in ("measure", "work", "value", "target", "ok"):
        table.add_column(column, justify="left" if column in ("measure", "work") else "right")
    for row in rows:
        if row["value"] is None:
            value = "-"
        elif row["unit"] == "steps/s":
            value = f"{row['value']:,.0f} steps/s"
        else:
            value = f"{row['value']:,.2f} {row['unit']}"
        table.add_row(measure_name(row), work_done(row), value, target_shown(row), OK_SHOWN[row["ok"]])
    (console or Console()).print(table)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="swapdiff bench", description="Implementation and harness benchmarks.")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per harness measurement")
    parser.add_argument("--impl", default="optimized", metavar="SPEC", help="candidate for the harness rows")
    parser.add_argument("--profile", default="default", help="world profile of the harness rows")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every row as JSON")
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--harness-only", action="store_true", help="skip the implementation and kernel-lane benchmarks"
    )
    only.add_argument(
        "--implementations-only", action="store_true", help="skip the harness and kernel-lane benchmarks"
    )
    only.add_argument("--lane-only", action="store_true", help="only the kernel-lane benchmarks")
    parser.add_argument("--no-startup", action="store_true", help="skip the cold-compile and warm-start rows")
    parser.add_argument("--no-lane", action="store_true", help="skip the kernel-lane rows")
    parser.add_argument(
        "--lane-steps", type=positive_int, default=400, metavar="N", help="steps per lane run (default: 400)"
    )
    parser.add_argument(
        "--vm", action="append", default=[], metavar="KERNEL", help="also a lane row in a VM of KERNEL"
    )
    parser.add_argument("--kernels", default=None, metavar="DIR", help="where --vm kernels are staged")
    return parser


def main(argv: Sequence[str]) -> int:
    """`swapdiff bench [--seconds S] [--impl SPEC] [--profile NAME] [--json FILE] [--no-lane]
    [--lane-steps N] [--vm KERNEL [--kernels DIR]] [...]`."""
    args = _parser().parse_args(list(argv))
    if not args.seconds > 0:
        raise UsageError("--seconds must be positive", prog="swapdiff bench")
    from fuzz.impls import resolve
    from fuzz.workloads import get_profile

    resolve(args.impl)  # a bad --impl or profile is a one-line error before anything runs
    try:
        get_profile(args.profile)
    except ValueError as err:
        raise UsageError(str(err), prog="swapdiff bench") from None
    rows: list[dict[str, Any]] = []
    if not (args.harness_only or args.lane_only):
        from fuzz.cli.bench.implementations import run_bench

        rows.extend(run_bench(startup=not args.no_startup))
    if not (args.implementations_only or args.lane_only):
        from fuzz.cli.bench.harness import harness_rows

        rows.extend(harness_rows(impl=args.impl, profile=args.profile, seconds=args.seconds))
    if not (args.no_lane or args.harness_only or args.implementations_only):
        from fuzz.cli.bench.lane import lane_rows

        rows.extend(lane_rows(steps=args.lane_steps, vms=args.vm, kernels=args.kernels))
    print_rows(rows)
    if args.json:
        from fuzz.trace import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0
