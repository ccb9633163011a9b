"""The `swapdiff` command: fuzz campaigns, trace replay and minimization, benchmarks, mutants.

    swapdiff fuzz [--impl SPEC] [--profile NAME] [--geometry small|large|JSON|FILE]
                  [--time 10m | --steps N] [--workers N|auto] [--seed S] [--out DIR]
                  [--mode fast|hypothesis|both] [--hang-timeout DURATION|off]
    swapdiff replay TRACE [--impl SPEC] [--level contract|allocator|accounting] [--hang-timeout DURATION]
    swapdiff minimize TRACE [--impl SPEC] [--level contract|allocator|accounting]
    swapdiff bench [...]
    swapdiff mutants [...]
    swapdiff kernel [--steps N | --time T | --replay TRACE] [--seed S] [--allow-existing] [--out DIR]

Exit codes: 0 nothing diverged, 1 a divergence was found, 2 a usage or input error (always a
one-line message on stderr, never a traceback), 3 an internal error of swapdiff itself (a
campaign worker's harness error, or a bug: one line; SWAPDIFF_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from fuzz.cli.args import (
    SAME_DEVICE_HELP,
    OneLineParser,
    UsageError,
    duration,
    duration_or_off,
    positive_int,
    seed,
    workers,
)
from fuzz.impls import ImplError, resolve
from fuzz.trace import TraceError

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="swapdiff", description="Differential testing of Linux swap entry management."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fuzz = sub.add_parser("fuzz", help="run a fuzzing campaign", description="Run a fuzzing campaign.")
    _impl_option(fuzz)
    fuzz.add_argument(
        "--reference", default="reference", metavar="SPEC", help="the reference (default: %(default)s)"
    )
    fuzz.add_argument("--profile", default="default", help="workload profile (default: %(default)s)")
    fuzz.add_argument(
        "--geometry",
        default="small",
        help="'small' or 'large' (drawn per episode), or a fixed geometry as JSON text or a JSON file",
    )
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument(
        "--time",
        type=duration,
        metavar="DURATION",
        help="time budget: 90s, 10m, 2h, 1h30m (default: 1m unless --steps)",
    )
    budget.add_argument("--steps", type=positive_int, metavar="N", help="step budget, shared by the workers")
    fuzz.add_argument("--workers", type=workers, default=1, metavar="N|auto", help="worker processes")
    fuzz.add_argument("--seed", type=seed, default=0, help="campaign seed; worker w uses seed*1000+w")
    fuzz.add_argument(
        "--out", default="swapdiff-out", metavar="DIR", help="output folder (default: %(default)s)"
    )
    fuzz.add_argument("--mode", choices=("fast", "hypothesis", "both"), default="fast")
    _level_option(fuzz)
    fuzz.add_argument(
        "--episode-steps",
        type=positive_int,
        default=None,
        metavar="N",
        help="world actions per fast episode",
    )
    fuzz.add_argument(
        "--hang-timeout",
        type=duration_or_off,
        default=None,
        metavar="DURATION|off",
        help="a candidate call (or batch) running longer than this is a hang (default: 2m)",
    )
    fuzz.add_argument(
        "--guided",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="fast mode grows a corpus of episodes that reached new state features and "
        "continues them (--guided) or runs a fresh seeded episode every round (--no-guided, "
        "the default until guidance meets its targets: docs/guided-campaigns.md)",
    )
    fuzz.add_argument("--quiet", action="store_true", help="no live progress display")
    fuzz.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the rounds on this Dask scheduler (default: $SWAPDIFF_SCHEDULER, else local processes)",
    )
    fuzz.add_argument(
        "--connect-timeout",
        type=duration,
        default=None,
        metavar="DURATION",
        help="how long to wait for --scheduler (default: 10s)",
    )
    fuzz.add_argument(
        "--corpus",
        default=None,
        metavar="DIR",
        help="shared corpus of known divergences: replayed first, this campaign's traces added",
    )
    fuzz.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="continue the interrupted distributed campaign whose --out is DIR",
    )

    replay = sub.add_parser(
        "replay", help="replay a trace in lockstep", description="Replay a trace in lockstep."
    )
    replay.add_argument("trace", metavar="TRACE")
    _impl_option(replay, default=None)
    _level_option(replay, default=None)
    replay.add_argument(
        "--hang-timeout",
        type=duration,
        default=None,
        metavar="DURATION",
        help="for a trace that recorded a hang: how long its last call may run (default: 10s)",
    )

    minimize = sub.add_parser(
        "minimize", help="shrink a failing trace", description="Shrink a failing trace (delta debugging)."
    )
    minimize.add_argument("trace", metavar="TRACE")
    _impl_option(minimize, default=None)
    _level_option(minimize, default=None)
    minimize.add_argument("--output", "-o", default=None, help="where to write (default: <name>.min.jsonl)")
    minimize.add_argument(
        "--max-time", type=duration, default=None, metavar="DURATION", help="stop searching after this long"
    )

    sub.add_parser("bench", help="benchmarks: implementations and harness steps/s", add_help=False)
    sub.add_parser("mutants", help="run the mutant suite (named bug injections)", add_help=False)
    sub.add_parser("kernel", help="compare the reference with the running Linux kernel", add_help=False)
    return parser


def _impl_option(parser: argparse.ArgumentParser, default: str | None = "optimized") -> None:
    parser.add_argument(
        "--impl",
        default=default,
        metavar="SPEC",
        help="candidate: optimized, reference or package.module:Class"
        + (" (default: %(default)s)" if default else " (default: the trace's candidate)"),
    )


def _level_option(parser: argparse.ArgumentParser, default: str | None = "allocator") -> None:
    parser.add_argument(
        "--level",
        choices=("contract", "allocator", "accounting"),
        default=default,
        help="what is compared after every op: 'allocator' (everything, cluster lists and hints "
        "too), 'contract' (what callers see), 'accounting' (what callers see with entries "
        "compared up to renaming, for candidates that place slots differently; runs op by op, "
        "fast mode's batch apply cannot serve it)" + (" (default: %(default)s)" if default else ""),
    )
    parser.add_argument(
        "--same-device",
        action=argparse.BooleanOptionalAction,
        default=None if default is None else True,
        help=SAME_DEVICE_HELP + " (default: on; a trace's own setting for replay and minimize)",
    )


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _trace_impls(trace, impl: str | None) -> tuple[type, type, str]:
    """The reference and candidate classes for a trace: --impl, else those it recorded."""
    reference_cls = resolve(trace.impls.get("reference", "reference"))
    spec = impl or trace.impls.get("candidate", "optimized")
    try:
        return reference_cls, resolve(spec), spec
    except ImplError as err:
        if impl:
            raise
        raise ImplError(f"{err} (the trace's recorded candidate; choose another with --impl)") from None


def cmd_replay(args: argparse.Namespace) -> int:
    from fuzz.replay import replay_trace
    from fuzz.trace import read_trace

    trace = read_trace(args.trace)
    reference_cls, candidate_cls, spec = _trace_impls(trace, args.impl)
    outcome = replay_trace(
        trace,
        reference_cls,
        candidate_cls,
        level=args.level,
        hang_timeout=args.hang_timeout,
        same_device=args.same_device,
    )
    _warn_drift(outcome, trace)
    if outcome.divergence is not None:
        print(outcome.divergence.describe())
        print(
            f"{args.trace}: candidate {spec} diverges at step {outcome.divergence.step} of {len(trace.steps)}"
        )
        return EXIT_DIVERGED
    print(
        f"{args.trace}: {outcome.steps_run} ops agree ({trace.impls.get('reference', 'reference')} vs {spec})"
    )
    return EXIT_OK


def _warn_drift(outcome, trace) -> None:
    from fuzz.trace import result_to_json

    if outcome.result_drift:
        step, recorded, now = outcome.result_drift[0]
        name = trace.steps[step].call.name
        print(
            f"warning: {len(outcome.result_drift)} recorded reference result(s) differ from the current "
            f"reference (first: step {step} {name}: recorded {result_to_json(name, recorded)}, now "
            f"{result_to_json(name, now)}); the specification changed since the trace was written",
            file=sys.stderr,
        )
    elif outcome.digest_drift:
        print(
            f"warning: {len(outcome.digest_drift)} recorded state digest(s) differ from today's reference "
            f"(first: step {outcome.digest_drift[0]}); the snapshot format or the specification changed",
            file=sys.stderr,
        )


def cmd_minimize(args: argparse.Namespace) -> int:
    from fuzz.minimize import minimize_trace, minimized_path
    from fuzz.trace import read_trace, write_trace

    trace = read_trace(args.trace)
    reference_cls, candidate_cls, _ = _trace_impls(trace, args.impl)
    if args.same_device is not None:
        trace.same_device = args.same_device
    result = minimize_trace(trace, reference_cls, candidate_cls, level=args.level, max_seconds=args.max_time)
    out = args.output or minimized_path(args.trace)
    write_trace(out, result.trace)
    print(result.divergence.describe())
    capped = ", time cap reached" if result.capped else ""
    print(
        f"minimized {args.trace}: {result.before} -> {result.after} ops "
        f"({result.tests} replays, {result.seconds:.1f}s{capped}); wrote {out}"
    )
    return EXIT_OK


def cmd_fuzz(args: argparse.Namespace) -> int:
    from fuzz.cli.campaign import CampaignConfig, run_campaign

    if args.resume is not None:
        from fuzz.cli.distributed import resume_campaign

        return resume_campaign(args)
    config = CampaignConfig.from_args(args)
    if config.scheduler:
        from fuzz.cli.distributed import run_distributed_campaign

        return run_distributed_campaign(config)
    return run_campaign(config)


def cmd_bench(argv: Sequence[str]) -> int:
    from fuzz.cli.bench import main as bench_main

    return bench_main(list(argv))


def cmd_mutants(argv: Sequence[str]) -> int:
    try:
        from fuzz.mutants.cli import main as mutants_main
    except ImportError:
        raise UsageError(
            "the mutant suite (fuzz.mutants) is not available", prog="swapdiff mutants"
        ) from None
    return int(mutants_main(list(argv)) or 0)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _input_errors() -> tuple[type[BaseException], ...]:
    from fuzz.cli.campaign import CampaignError

    return (UsageError, TraceError, ImplError, CampaignError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except _input_errors() as err:
        return _fail(str(err), prog=getattr(err, "prog", "swapdiff"))
    except KeyboardInterrupt:
        print("swapdiff: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug in swapdiff itself: still one line, with a way to see more
        if os.environ.get("SWAPDIFF_DEBUG"):
            raise
        return _fail(
            f"internal error: {type(err).__name__}: {' '.join(str(err).split())} "
            "(set SWAPDIFF_DEBUG=1 for the traceback)",
            code=3,
        )


def _fail(message: str, *, prog: str = "swapdiff", code: int = EXIT_USAGE) -> int:
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _dispatch(argv: list[str]) -> int:
    from fuzz.minimize import MinimizeError

    # bench and mutants own their arguments.
    if argv and argv[0] == "kernel":
        from fuzz.kernel.cli import main as kernel_main

        return kernel_main(argv[1:])
    if argv and argv[0] in ("bench", "mutants"):
        return cmd_bench(argv[1:]) if argv[0] == "bench" else cmd_mutants(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "replay":
            return cmd_replay(args)
        if args.command == "minimize":
            return cmd_minimize(args)
        return cmd_fuzz(args)
    except MinimizeError as err:
        raise UsageError(str(err), prog="swapdiff minimize") from None


if __name__ == "__main__":
    sys.exit(main())
