"""`swapdiff kernel`: run the kernel lane (world actions on the running kernel vs the reference).

    swapdiff kernel [--steps N | --time T] [--seed S] [--pages N] [--shm-pages N] [--allow-existing]
                    [--replay TRACE] [--out DIR] [--shrink] [--semantics 6.18|7.2|7.3]
                    [--mthp SIZE [--large-folios N]] [--record FILE]
    swapdiff kernel --check TRACE [--semantics 6.18|7.2|7.3]

Exit codes: 0 no divergence, 1 a divergence (trace written to --out), 2 usage error or the
host cannot run the lane (one line saying why).  `--check` replays a trace recorded with
`--record` on the model alone (no kernel, any host) and compares the recording with it.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from fuzz.cli.args import OneLineParser, UsageError, duration, non_negative_int, positive_int, seed
from fuzz.kernel.rules import RULES, rules_for_release


def mthp_size(text: str) -> int:
    """An mTHP size as sysfs names it: 64K, 64kB or 64 (KiB); the size's existence is checked
    against the running kernel by `main`."""
    digits = text.strip().removesuffix("kB").removesuffix("K").removesuffix("k")
    if not digits.isdigit() or int(digits) < 8 or int(digits) & (int(digits) - 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not an mTHP size such as 16K, 64K or 1024K")
    return int(digits)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="swapdiff kernel",
        description="Run world actions on the running Linux kernel and compare it with the reference.",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--time", type=duration, metavar="DURATION", help="time budget (default: 30s)")
    budget.add_argument("--steps", type=positive_int, metavar="N", help="number of world actions")
    budget.add_argument("--replay", metavar="TRACE", help="replay a kernel-lane trace on kernel and model")
    budget.add_argument(
        "--check",
        metavar="TRACE",
        help="replay a recorded trace (--record) on the model alone and compare it with the "
        "kernel's recorded observations (default rules: those of the release that recorded it)",
    )
    p.add_argument("--seed", type=seed, default=0, help="action seed (default: %(default)s)")
    p.add_argument("--pages", type=positive_int, default=128, help="tracked pages (default: %(default)s)")
    p.add_argument(
        "--shm-pages",
        type=non_negative_int,
        default=32,
        help="tracked shmem (memfd) pages, 0 for none (default: %(default)s)",
    )
    p.add_argument("--allow-existing", action="store_true", help="run although other swap devices are active")
    p.add_argument("--out", default="swapdiff-out", metavar="DIR", help="where a divergence trace goes")
    p.add_argument("--shrink", action="store_true", help="delta-debug a divergence before writing it")
    p.add_argument(
        "--semantics",
        choices=sorted(RULES),
        help="the kernel rule set the lane's translation follows (default: the one of the running "
        "kernel's major.minor, if the lane knows it; see docs/kernel-releases.md)",
    )
    p.add_argument(
        "--record",
        metavar="FILE",
        help="write the run's trace there with the kernel's observations after every step "
        "(checkable anywhere with --check)",
    )
    p.add_argument(
        "--mthp",
        type=mthp_size,
        metavar="SIZE",
        help="also drive large folios of this anonymous mTHP size (e.g. 64K): its per-size THP "
        'switch is set to "madvise" for the run, every other size to "never"',
    )
    p.add_argument(
        "--large-folios",
        type=positive_int,
        default=4,
        metavar="N",
        help="folios in the large region with --mthp, at most 64 (default: %(default)s)",
    )
    return p


def semantics_for(release: str, chosen: str | None) -> str:
    """The rule set to run with: the one asked for, or the one of `release`'s major.minor."""
    if chosen is not None:
        return chosen
    rules = rules_for_release(release)
    if rules is not None:
        return rules.name
    known = ", ".join(sorted(RULES, key=_version))
    raise UsageError(
        f"the lane has rule sets for Linux {known} only (this is {release}); pass --semantics "
        f"{_closest(release)} (the newest rule set not newer than it) to run with it anyway",
        prog="swapdiff kernel",
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in name.split("."))


def _closest(release: str) -> str:
    """The newest rule set whose major.minor is not above `release`'s (the oldest if none)."""
    m = re.match(r"(\d+)\.(\d+)", release)
    names = sorted(RULES, key=_version)
    if m is None:
        return names[-1]
    older = [n for n in names if _version(n) <= (int(m[1]), int(m[2]))]
    return older[-1] if older else names[0]


def check(path: str, chosen: str | None) -> int:
    """`--check`: the recorded trace against the model under the chosen (or recording) rules."""
    from fuzz.kernel.recorded import check_recorded, read_recorded

    header, actions, _ = read_recorded(path)
    semantics = semantics_for(str(header.get("kernel", "")), chosen)
    problem = check_recorded(path, semantics)
    print(
        f"swapdiff kernel --check: {len(actions)} steps recorded on Linux {header.get('kernel')}, "
        f"model under the {semantics} rules"
    )
    if problem is None:
        print("the model predicts every recorded observation")
        return 0
    step, what = problem
    print(f"DIVERGENCE at step {step} {actions[step]}: {what}")
    return 1


def main(argv: Sequence[str]) -> int:
    from fuzz.kernel.device import KernelUnavailable, mthp_order
    from fuzz.kernel.lane import SHM_OPS, kernel_header, run_lane, shrink
    from fuzz.kernel.trace import read_kernel_trace, write_kernel_trace

    args = build_parser().parse_args(list(argv))
    if args.check:
        return check(args.check, args.semantics)
    if args.pages > 1024 or args.shm_pages > 1024:
        raise UsageError("--pages and --shm-pages are at most 1024", prog="swapdiff kernel")
    replay = None
    npages, shm_pages = args.pages, args.shm_pages
    mthp_kb, large_folios = args.mthp or 0, args.large_folios
    if args.replay:
        header, replay = read_kernel_trace(args.replay)
        npages, shm_pages = header["pages"], header.get("shm_pages", 0)
        mthp = header.get("mthp")
        mthp_kb, large_folios = (mthp["size_kb"], mthp["folios"]) if mthp else (0, 0)
    if large_folios > 64:
        raise UsageError("--large-folios is at most 64", prog="swapdiff kernel")
    if mthp_kb:
        try:
            mthp_order(mthp_kb)
        except KernelUnavailable as err:
            raise UsageError(f"--mthp {mthp_kb}K: {err}", prog="swapdiff kernel") from None
    semantics = semantics_for(platform.release(), args.semantics)
    seconds = args.time if args.time is not None else (None if args.steps or replay else 30.0)
    print(
        f"swapdiff kernel: Linux {platform.release()} ({semantics} rules), vm.page-cluster=0, "
        f"THP never, CPU 0, {npages} anonymous and {shm_pages} shmem pages"
        + (f", {large_folios} large folios of {mthp_kb}K (mTHP madvise)" if mthp_kb else "")
    )
    try:
        result = run_lane(
            seed=args.seed,
            steps=args.steps,
            seconds=seconds,
            npages=npages,
            shm_pages=shm_pages,
            allow_existing=args.allow_existing,
            out=Path(args.out),
            replay=replay,
            semantics=semantics,
            mthp_kb=mthp_kb,
            large_folios=large_folios,
            record=Path(args.record) if args.record else None,
        )
    except KernelUnavailable as err:
        print(f"swapdiff kernel: error: {err}", file=sys.stderr)
        return 2
    rate = result.steps / result.seconds if result.seconds else 0.0
    print(
        f"{result.steps} steps in {result.seconds:.1f}s ({rate:.0f} steps/s), "
        f"{result.fault_frees} fault-time slot frees predicted by the {semantics} rules"
    )
    if result.mthp is not None:
        m = result.mthp
        print(
            f"large folios: {m['anon_fault_alloc']} faulted in, {m['swpout']} swapped out whole, "
            f"{m['swpout_fallback']} fell back to order 0 (split)"
        )
    shm_ops = {op: n for op, n in sorted(result.ops.items()) if op in SHM_OPS}
    if shm_ops:
        ev = result.shm_events
        counts = ", ".join(f"{op} {n}" for op, n in shm_ops.items())
        print(
            f"shmem: {sum(shm_ops.values())} actions ({counts}), "
            f"{ev['fault_around']} pages mapped by fault-around, {ev['clean_dropped']} clean folios dropped"
        )
    if result.paused_reclaimers:
        print(f"{result.paused_reclaimers} DAMON pageout scheme(s) paused for the run and restored")
    if result.divergence is None:
        print("kernel and reference agree on every compared observable after every step")
        return 0
    print(f"DIVERGENCE at {result.divergence}")
    if args.shrink and result.trace_path and replay is None:
        _, actions = read_kernel_trace(result.trace_path)
        small = shrink(
            actions,
            npages=npages,
            shm_pages=shm_pages,
            mthp_kb=mthp_kb,
            large_folios=large_folios,
            semantics=semantics,
        )
        header = kernel_header(
            args.seed, npages, result.paused_reclaimers, semantics, shm_pages, mthp_kb, large_folios
        )
        header["divergence"] = result.divergence
        write_kernel_trace(Path(result.trace_path), header, small)
        print(f"shrunk to {len(small)} actions")
    if result.trace_path:
        print(f"trace: {result.trace_path} (swapdiff kernel --replay {result.trace_path})")
    return 1
