"""`swapdiff kernel mutants`: build kernel patches into a source tree and run the lane on each.

    swapdiff kernel mutants --tree LINUX_SRC [--only NAME ...] [--patch FILE ...]
                            [--steps N | --time T] [--seed S] [--out DIR] [--jobs N]
                            [--semantics 7.3] [--mthp SIZE] [--hibernation-share F]
                            [--guest-setup CMD] [VM options] [--list]

Without --patch it runs the catalogue (fuzz/kernel/mutants/, `--list` prints it) or the
entries --only names; with --patch it runs those patches only (--mthp, --hibernation-share and
--guest-setup apply to them).  Exit codes: 0 every patch was detected (the lane diverged, or
the guest kernel panicked), 1 at least one was missed (the lane agreed with it: for a patch of
yours, "swapdiff sees no difference"), 2 usage (also: a patch that does not apply cleanly, a
.config without what the lane needs), 3 a build or guest failure, or a broken baseline (the
stock kernel disagreeing).  The tree is left as found on every exit, Ctrl-C and SIGTERM
included (130 after an interrupt).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fuzz.cli.args import OneLineParser, UsageError, duration, positive_int, seed
from fuzz.kernel.cli import fraction, mthp_size
from fuzz.kernel.kbuild import default_jobs
from fuzz.kernel.mutants import CATALOGUE, by_name
from fuzz.kernel.mutation import PROG, Candidate, Options, compile_mutants, render, run_mutants, write_json
from fuzz.kernel.rules import RULES
from fuzz.kernel.tree import KernelTree, TreeError, read_patch


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=PROG,
        description="Build kernel patches (the mutant catalogue, or yours) into a Linux source "
        "tree, boot each in a VM and run the kernel lane: does swapdiff see what the patch does?",
    )
    p.add_argument("--tree", metavar="LINUX_SRC", help="a Linux source tree (left as found)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="catalogue mutants to run (default: all)")
    p.add_argument("--patch", action="append", metavar="FILE", help="run this patch (-p1) instead")
    p.add_argument("--list", action="store_true", help="print the catalogue and exit")
    p.add_argument(
        "--compile-only",
        action="store_true",
        help="only compile the objects each patch touches, in a tree built (or `make prepare`d) "
        "before: no image, no VM; exit 0 if every patch compiles, 3 if one does not",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, metavar="N", help="lane steps per kernel (default 300)")
    budget.add_argument("--time", type=duration, metavar="DURATION", help="lane time per kernel instead")
    p.add_argument("--seed", type=seed, default=0, help="lane seed, the same for every kernel (default: 0)")
    p.add_argument("--out", default="swapdiff-mutants", metavar="DIR", help="logs, runs and mutants.json")
    p.add_argument("--jobs", type=positive_int, default=default_jobs(), help="make -j (default: %(default)s)")
    p.add_argument("--semantics", choices=sorted(RULES), help="rule set (default: the tree's release's)")
    user = p.add_argument_group("lane options for --patch runs")
    user.add_argument("--mthp", type=mthp_size, metavar="SIZE", help="also drive large folios (e.g. 64K)")
    user.add_argument("--hibernation-share", type=fraction, metavar="F", help="share of hibernation actions")
    user.add_argument("--guest-setup", metavar="CMD", help="a shell command the guest runs before the lane")
    vm = p.add_argument_group("VM")
    vm.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    vm.add_argument("--cpus", type=positive_int, default=1)
    vm.add_argument("--memory", default="2G", metavar="SIZE")
    vm.add_argument("--boot-timeout", type=duration, metavar="DURATION")
    return p


def candidates(args: argparse.Namespace) -> list[Candidate]:
    """The patches to run, from --patch or the catalogue (--only); UsageError for bad names."""
    if args.patch:
        if args.only:
            raise UsageError("--only picks catalogue mutants; --patch runs your patches instead", prog=PROG)
        lane: list[str] = []
        if args.mthp:
            lane += ["--mthp", f"{args.mthp}K"]
        if args.hibernation_share is not None:
            lane += ["--hibernation-share", f"{args.hibernation_share:g}"]
        patches = [read_patch(Path(f)) for f in args.patch]
        names = [p.name for p in patches]
        if len(set(names)) != len(names):
            raise UsageError(f"two --patch files share a name: {', '.join(names)}", prog=PROG)
        return [Candidate(p.name, p, tuple(lane), args.guest_setup) for p in patches]
    if args.mthp or args.hibernation_share is not None or args.guest_setup:
        raise UsageError("--mthp, --hibernation-share and --guest-setup apply to --patch runs", prog=PROG)
    known = by_name()
    chosen = args.only or [m.name for m in CATALOGUE]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise UsageError(f"no mutant {', '.join(unknown)} (catalogue: {', '.join(known)})", prog=PROG)
    return [
        Candidate(m.name, read_patch(m.patch, m.name), m.lane, m.guest_setup, m.expect)
        for m in (known[n] for n in dict.fromkeys(chosen))
    ]


def print_catalogue() -> None:
    for m in CATALOGUE:
        opts = " ".join(m.lane) + (f"; guest: {m.guest_setup}" if m.guest_setup else "")
        print(f"{m.name}\n  bug: {m.bug}\n  source: {m.source}\n  shows as: {m.observable}")
        print(f"  lane: {opts}\n  expect: {m.expect}")


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.list:
        print_catalogue()
        return 0
    if not args.tree:
        raise UsageError("--tree LINUX_SRC is required (the source tree to build patches into)", prog=PROG)
    if not Path(args.tree).is_dir():
        raise UsageError(f"--tree {args.tree}: no such directory", prog=PROG)
    try:
        tree = KernelTree(Path(args.tree))
        chosen = candidates(args)
        tree.require_applicable(c.patch for c in chosen)
    except TreeError as err:
        raise UsageError(str(err), prog=PROG) from None
    if args.compile_only:
        return _compile_only(tree, chosen, args)
    from fuzz.kernel.vm import VmError, check_tools

    try:
        check_tools()
    except VmError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.code
    opts = Options(
        out=Path(args.out).absolute(),
        seed=args.seed,
        steps=args.steps if args.steps or args.time else 300,
        seconds=args.time,
        jobs=args.jobs,
        semantics=args.semantics,
        accel=args.accel,
        cpus=args.cpus,
        memory=args.memory,
        boot_timeout=args.boot_timeout,
    )
    try:
        report = run_mutants(tree, chosen, opts)
    except TreeError as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return err.code
    render(report)
    print(f"report: {write_json(report, opts.out)}; tree {tree.root} left as found")
    return report.exit


def _compile_only(tree: KernelTree, chosen: list[Candidate], args: argparse.Namespace) -> int:
    out = Path(args.out).absolute()
    try:
        results = compile_mutants(tree, chosen, args.jobs, out)
    except TreeError as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return err.code
    ok = sum(r.outcome == "compiles" for r in results)
    print(f"{ok} of {len(results)} patches compile on {tree.root} (Linux {tree.release}); logs in {out}")
    return 0 if ok == len(results) else 3
