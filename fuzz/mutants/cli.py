"""`swapdiff mutants`: run the harness against every catalogued mutant and print the table.

    swapdiff mutants [--budget SECONDS] [--steps N] [--mode fast|hypothesis|both]
                     [--only NAME[,NAME]] [--workers N|auto] [--seed S] [--out DIR]
                     [--json FILE] [--minimize-seconds S] [--episode-steps N] [--jit]
                     [--quiet]
    swapdiff mutants --list      the catalogue
    swapdiff mutants --check     do all edits still apply to the current optimized/?

Each mutant runs in its own process (`--workers` at a time) on the same fixed seeds: fast mode
first, then (`--mode both`) Hypothesis mode for the rest of the budget.  The table shows, per
mutant: caught/survived/equivalent/error, the mode that caught it, world steps and API calls to
the first divergence, seconds (after warm-up), the first diverging call and the divergence
kind, and the failing / minimized trace lengths (`+`: minimization hit its time cap).  Failing
traces go to DIR as `<mutant>.jsonl` and `<mutant>.min.jsonl`; the JSON file holds
{"swapdiff_mutants": 1, "config": ..., "summary": {caught, scored, survived, errors,
equivalent, steps/calls/seconds/min_len: {median, worst}}, "results": [one row per mutant]}.

Exit codes: 0 every non-equivalent mutant was caught (or --list/--check passed), 1 some
survived or failed to run, 2 a usage error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fuzz.cli.args import (
    SAME_DEVICE_HELP,
    OneLineParser,
    UsageError,
    parse_duration,
    positive_int,
    seed,
    workers,
)

if TYPE_CHECKING:
    from rich.console import JustifyMethod

from fuzz.mutants.catalogue import CATALOGUE, NOT_APPLICABLE, Mutant, select

EXIT_OK, EXIT_SURVIVED, EXIT_USAGE = 0, 1, 2
CALL_WIDTH = 60


def _seconds(text: str) -> float:
    """Plain seconds ("90", "2.5", "0") or a duration such as "90s", "10m", "1h30m"."""
    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_duration(text)
        except ValueError:
            value = -1.0
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"expected seconds or a duration like 90s or 5m, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="swapdiff mutants",
        description="Run the harness against named bug injections of optimized/ and report how fast "
        "each is caught.",
    )
    parser.add_argument(
        "--budget", type=_seconds, default=60.0, help="search seconds per mutant (default 60)"
    )
    parser.add_argument(
        "--steps", type=positive_int, default=None, help="world-step budget per mutant (shared by the modes)"
    )
    parser.add_argument("--mode", choices=("fast", "hypothesis", "both"), default="both")
    parser.add_argument(
        "--level",
        choices=("allocator", "contract", "accounting"),
        default="allocator",
        help="comparison level (default: allocator); at 'accounting' placement-only mutants "
        "are legitimately invisible and fast mode runs op by op",
    )
    parser.add_argument(
        "--same-device",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=SAME_DEVICE_HELP + " (default: on)",
    )
    parser.add_argument("--only", default=None, metavar="NAME[,NAME]", help="run only these mutants")
    parser.add_argument(
        "--workers",
        type=workers,
        default="auto",
        metavar="N|auto",
        help="mutants run at once (default: auto)",
    )
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--out", default="swapdiff-mutants", metavar="DIR", help="failing traces go here")
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="the table as JSON (default DIR/mutants.json)"
    )
    parser.add_argument("--minimize-seconds", type=_seconds, default=20.0, help="time cap of minimization")
    parser.add_argument("--episode-steps", type=positive_int, default=1000, help="world actions per episode")
    parser.add_argument(
        "--jit", action="store_true", help="compile each mutant with numba (slow: a cold compile each)"
    )
    parser.add_argument("--quiet", action="store_true", help="no per-mutant progress lines")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--check", action="store_true", help="check that every mutant applies and exit")
    return parser


def _selected(only: str | None) -> list[Mutant]:
    if only is None:
        return list(CATALOGUE)
    names = [n.strip() for n in only.split(",") if n.strip()]
    if not names:
        raise UsageError("--only needs at least one mutant name")
    try:
        return select(names)
    except KeyError as err:
        raise UsageError(f"unknown mutant {err.args[0]!r} (see swapdiff mutants --list)") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run `swapdiff mutants` with these arguments; returns the exit code."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        mutants = _selected(args.only)
    except UsageError as err:
        print(f"swapdiff mutants: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.list:
        return _list(mutants)
    if args.check:
        return _check(mutants)
    try:
        return _run(args, mutants)
    except OSError as err:  # unwritable --out / --json
        print(f"swapdiff mutants: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("swapdiff mutants: interrupted", file=sys.stderr)
        return EXIT_SURVIVED


def _list(mutants: list[Mutant]) -> int:
    from rich.table import Table

    table = Table(title=f"{len(mutants)} mutants")
    for column in ("mutant", "source", "profile", "edits", "equivalent"):
        table.add_column(column)
    for m in mutants:
        table.add_row(m.name, m.source, m.profile, str(len(m.edits)), "yes" if m.equivalent else "")
    console = _console()
    console.print(table)
    console.print("Section 4 bugs without a mutant:")
    for bug, why in NOT_APPLICABLE:
        console.print(f"  {bug}: {why}")
    return EXIT_OK


def _check(mutants: list[Mutant]) -> int:
    from fuzz.mutants.apply import check_mutant

    problems = [p for p in (check_mutant(m) for m in mutants) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(mutants) - len(problems)}/{len(mutants)} mutants apply to the current optimized/")
    return EXIT_SURVIVED if problems else EXIT_OK


def _run(args: argparse.Namespace, mutants: list[Mutant]) -> int:
    from fuzz.mutants.runner import RunConfig, all_caught, run_mutants, summarize

    config = RunConfig(
        budget=args.budget,
        steps=args.steps,
        mode=args.mode,
        seed=args.seed,
        episode_steps=args.episode_steps,
        minimize_seconds=args.minimize_seconds,
        out=args.out,
        jit=args.jit,
        level=args.level,
        same_device=args.same_device,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out / "mutants.json"

    def progress(result) -> None:
        if not args.quiet:
            print(f"  {result.status:<10} {result.name}", file=sys.stderr, flush=True)

    results = run_mutants(mutants, config, workers=args.workers, on_done=progress)
    summary = summarize(results)
    print_table(results, summary)
    payload = {
        "swapdiff_mutants": 1,
        "config": config.to_dict(),
        "summary": summary,
        "results": [r.to_dict() for r in results],
    }
    from fuzz.trace import atomic_write_text

    atomic_write_text(json_path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"table written to {json_path}")
    return EXIT_OK if all_caught(results) else EXIT_SURVIVED


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _console():
    from rich.console import Console

    # Piped output (CI logs, files) gets a wide table instead of rich's 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=200)


def print_table(results, summary) -> None:
    """The rich table of results and the median/worst line."""
    from rich.table import Table

    styles = {"caught": "green", "survived": "bold red", "equivalent": "yellow", "error": "bold red"}
    table = Table(title="swapdiff mutants")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("mutant", "left"),
        ("result", "left"),
        ("mode", "left"),
        ("steps", "right"),
        ("calls", "right"),
        ("seconds", "right"),
        ("first diverging call", "left"),
        ("kind", "left"),
        ("trace", "right"),
        ("min", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for r in results:
        call = r.call or (r.error or "")
        if len(call) > CALL_WIDTH:
            call = call[: CALL_WIDTH - 3] + "..."
        status = f"[{styles.get(r.status, '')}]{r.status}[/]"
        minimized = _fmt(r.min_len) + ("+" if r.min_capped else "")
        table.add_row(
            r.name,
            status,
            r.mode or "-",
            _fmt(r.steps),
            _fmt(r.calls),
            _fmt(r.seconds),
            call,
            r.kind or "-",
            _fmt(r.trace_len),
            minimized,
        )
    console = _console()
    console.print(table)
    steps, seconds = summary["steps"], summary["seconds"]
    console.print(
        f"caught {summary['caught']}/{summary['scored']} non-equivalent mutants"
        f" ({len(summary['equivalent'])} equivalent); steps to catch: median {_fmt(steps['median'], 1)},"
        f" worst {_fmt(steps['worst'])}; seconds: median {_fmt(seconds['median'])},"
        f" worst {_fmt(seconds['worst'])}   ('+' = minimization hit its time cap)"
    )


if __name__ == "__main__":
    sys.exit(main())
