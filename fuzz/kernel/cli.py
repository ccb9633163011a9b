"""`swapdiff kernel`: run the kernel lane (world actions on the running kernel vs the reference).

    swapdiff kernel [--steps N | --time T] [--seed S] [--pages N] [--shm-pages N] [--allow-existing]
                    [--replay TRACE] [--out DIR] [--shrink] [--semantics 6.18|7.2|7.3]
                    [--mthp SIZE [--large-folios N]] [--summary FILE] [--record FILE]
                    [--hibernation-share FRACTION]
    swapdiff kernel --check TRACE [--semantics 6.18|7.2|7.3]
    swapdiff kernel --vm KERNEL [--kernels DIR] [--accel auto|kvm|tcg] [--cpus N] [--memory SIZE]
                    [--boot-timeout T] [--guest-setup CMD] [lane options]
    swapdiff kernel --matrix [--kernels DIR | --vm KERNEL ...] [--no-host] [VM and lane options]
    swapdiff kernel mutants --tree LINUX_SRC [...]   (fuzz/kernel/mutants_cli.py)

Exit codes: 0 no divergence, 1 a divergence (trace written to --out), 2 usage error or the
host cannot run the lane (one line saying why), 3 a guest that failed (panicked, hung, never
started the lane: one line naming the cause and the console log).  `--check` replays a trace
recorded with `--record` on the model alone (no kernel, any host) and compares the recording
with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from fuzz.cli.args import OneLineParser, UsageError, duration, non_negative_int, positive_int, seed
from fuzz.kernel.rules import RULES, closest_rule_set, rules_for_release, version_key

PROG = "swapdiff kernel"


def mthp_size(text: str) -> int:
    """An mTHP size as sysfs names it: 64K, 64kB or 64 (KiB); the size's existence is checked
    against the running kernel by `main`."""
    digits = text.strip().removesuffix("kB").removesuffix("K").removesuffix("k")
    if not digits.isdigit() or int(digits) < 8 or int(digits) & (int(digits) - 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not an mTHP size such as 16K, 64K or 1024K")
    return int(digits)


def device_pages(text: str) -> int:
    """The first lane device's size in pages: whole 512-page clusters, 512 to 65536."""
    if not text.strip().isdigit() or int(text) % 512 or not 512 <= int(text) <= 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a multiple of 512 from 512 to 65536")
    return int(text)


def fraction(text: str) -> float:
    """A share of actions: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction from 0 to 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="swapdiff kernel",
        description="Run world actions on the running Linux kernel and compare it with the reference.",
        epilog="swapdiff kernel mutants --tree LINUX_SRC: build kernel patches into a source tree "
        "and run the lane on each (swapdiff kernel mutants --help)",
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
    p.add_argument(
        "--device-pages",
        type=device_pages,
        default=4096,
        metavar="N",
        help="size of the lane's first swap device in pages, a multiple of 512 (default: %(default)s); "
        "one smaller than twice the tracked pages lets more than half of swap be used "
        "(vm_swap_full: faults, zaps and allocation then free cached slots; docs/kernel-lane.md)",
    )
    p.add_argument(
        "--ballast",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="pages beyond --pages that the first action pages out and nothing touches again; no "
        "device is swapped on or off then (e.g. --device-pages 1024 --ballast 490 keeps swap about "
        "half used; default: %(default)s)",
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
    p.add_argument(
        "--hibernation-share",
        type=fraction,
        default=0.08,
        metavar="FRACTION",
        help="share of random actions that take or free hibernation slots through /dev/snapshot, "
        "where the kernel has it (0: never; default: %(default)s; docs/hibernation.md)",
    )
    p.add_argument("--summary", metavar="FILE", help="also write the run's result as JSON to FILE")
    vm = p.add_argument_group("in a VM (virtme-ng and QEMU; see docs/kernel-vms.md)")
    vm.add_argument(
        "--vm",
        action="append",
        metavar="KERNEL",
        help="run the lane in a VM of KERNEL: a vmlinuz/bzImage, a kernel build tree, or a name in "
        "--kernels DIR (repeat with --matrix)",
    )
    vm.add_argument(
        "--matrix",
        action="store_true",
        help="run the host kernel and every kernel of --kernels DIR (or each --vm), one after "
        "another with the same seed and budget, then print one table (and matrix.json in --out)",
    )
    vm.add_argument(
        "--kernels",
        metavar="DIR",
        default=os.environ.get("SWAPDIFF_KERNELS"),
        help="a directory of kernels, <name>/lib/modules/<release>/vmlinuz (default: $SWAPDIFF_KERNELS)",
    )
    vm.add_argument(
        "--accel",
        choices=("auto", "kvm", "tcg"),
        default="auto",
        help="auto: KVM where a probe boot proves it works, else TCG (default: %(default)s)",
    )
    vm.add_argument("--cpus", type=positive_int, default=1, help="guest vCPUs (default: %(default)s)")
    vm.add_argument("--memory", default="2G", metavar="SIZE", help="guest memory (default: %(default)s)")
    vm.add_argument(
        "--boot-timeout",
        type=duration,
        metavar="DURATION",
        help="how long the guest may take to start the lane (default: 10m under TCG, 2m with KVM)",
    )
    vm.add_argument(
        "--guest-setup",
        metavar="CMD",
        help="a shell command the guest runs before the lane (e.g. a sysctl, a modprobe)",
    )
    vm.add_argument("--no-host", action="store_true", help="with --matrix: leave the host kernel out")
    return p


def check_sizes(args: argparse.Namespace) -> None:
    """The limits of the page-count options, which depend on one another (a usage error)."""
    if args.pages + args.ballast > 1024 or args.shm_pages > 1024:
        raise UsageError("--pages (with --ballast) and --shm-pages are at most 1024", prog=PROG)
    if args.ballast >= args.device_pages - 1:
        raise UsageError(
            f"--ballast {args.ballast} does not fit the first device ({args.device_pages} pages)", prog=PROG
        )


def semantics_for(release: str, chosen: str | None) -> str:
    """The rule set to run with: the one asked for, or the one of `release`'s major.minor."""
    if chosen is not None:
        return chosen
    rules = rules_for_release(release)
    if rules is not None:
        return rules.name
    known = ", ".join(sorted(RULES, key=version_key))
    raise UsageError(
        f"the lane has rule sets for Linux {known} only (this is {release}); pass --semantics "
        f"{closest_rule_set(release)} (the newest rule set not newer than it) to run with it anyway",
        prog="swapdiff kernel",
    )


def hibernation_summary(hib: dict[str, int] | None, note: str, ops: dict[str, int]) -> str:
    """The summary's hibernation line: slots taken and freed, or why the action was absent."""
    if hib is None:
        return f"hibernation slots: action absent ({note})"
    return (
        f"hibernation slots: {hib['taken']} taken, {hib['freed']} freed, {hib['refused']} refused "
        f"(ENOSPC) in {ops.get('hib_alloc', 0)} hib_alloc, {ops.get('hib_free', 0)} hib_free, "
        f"{ops.get('hib_close', 0)} hib_close"
    )


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

    if argv and argv[0] == "mutants":
        from fuzz.kernel.mutants_cli import main as mutants_main

        return mutants_main(argv[1:])
    args = build_parser().parse_args(list(argv))
    if args.check:
        return check(args.check, args.semantics)
    if args.matrix or args.vm:
        return vm_main(args)
    check_sizes(args)
    replay = None
    npages, shm_pages = args.pages + args.ballast, args.shm_pages
    mthp_kb, large_folios = args.mthp or 0, args.large_folios
    dev_pages = args.device_pages
    if args.replay:
        header, replay = read_kernel_trace(args.replay)
        npages, shm_pages = header["pages"], header.get("shm_pages", 0)
        dev_pages = replay_device_pages(args.replay, header)
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
        f"THP never, CPU 0, {npages} anonymous and {shm_pages} shmem pages, first device {dev_pages} pages"
        + (f" ({args.ballast} of the anonymous pages ballast)" if args.ballast and not replay else "")
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
            hib_share=args.hibernation_share,
            record=Path(args.record) if args.record else None,
            device_pages=dev_pages,
            ballast=0 if replay else args.ballast,
        )
    except KernelUnavailable as err:
        print(f"swapdiff kernel: error: {err}", file=sys.stderr)
        write_summary(args.summary, {"exit": 2, "error": str(err), "kernel": platform.release()})
        return 2
    rate = result.steps / result.seconds if result.seconds else 0.0
    print(
        f"{result.steps} steps in {result.seconds:.1f}s ({rate:.0f} steps/s), "
        f"{result.fault_frees} fault-time slot frees predicted by the {semantics} rules"
    )
    trimmed = f"; {result.trimmed} allocating actions trimmed so that no device fills up"
    print(
        f"swap more than half used (vm_swap_full) after {result.swap_full_steps} steps; "
        f"{result.swap_full_frees} fault-time frees for that reason" + (trimmed if result.trimmed else "")
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
    print(hibernation_summary(result.hib, result.hib_note, result.ops))
    if result.swapfree_offset:
        print(
            f"SwapFree was {result.swapfree_offset} KiB off the swap devices' free slots before the run "
            "(left by an earlier run on this boot); compared relative to that"
        )
    if result.paused_reclaimers:
        print(f"{result.paused_reclaimers} DAMON pageout scheme(s) paused for the run and restored")
    summary = {
        "kernel": platform.release(),
        "semantics": semantics,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "divergence": result.divergence,
        "step": result.divergence_step,
        "detail": result.divergence_detail,
        "trace": result.trace_path,
        "hibernation": result.hib,
        "ops": result.ops,
        "swap_full_steps": result.swap_full_steps,
        "swap_full_frees": result.swap_full_frees,
    }
    if result.divergence is None:
        print("kernel and reference agree on every compared observable after every step")
        write_summary(args.summary, {**summary, "exit": 0})
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
            device_pages=dev_pages,
        )
        share = args.hibernation_share if result.hib is not None else 0.0
        header = kernel_header(
            args.seed,
            npages,
            result.paused_reclaimers,
            semantics,
            shm_pages,
            mthp_kb,
            large_folios,
            share,
            dev_pages,
            args.ballast,
        )
        # the shrunk trace's own first divergence (what its replay shows), and the original
        again = run_lane(
            replay=small,
            npages=npages,
            shm_pages=shm_pages,
            semantics=semantics,
            mthp_kb=mthp_kb,
            large_folios=large_folios,
            device_pages=dev_pages,
        )
        header["divergence"] = again.divergence or result.divergence
        header["divergence_before_shrink"] = result.divergence
        write_kernel_trace(Path(result.trace_path), header, small)
        print(f"shrunk to {len(small)} actions; its replay: DIVERGENCE at {again.divergence}")
        summary["shrunk"] = {"actions": len(small), "divergence": again.divergence}
    if result.trace_path:
        print(f"trace: {result.trace_path} (swapdiff kernel --replay {result.trace_path})")
    write_summary(args.summary, {**summary, "exit": 1})
    return 1


def replay_device_pages(path: str, header: dict[str, object]) -> int:
    """The first device's size a replayed trace was run with (traces before --device-pages
    have the default)."""
    settings = header.get("settings")
    value = settings.get("device_pages", 4096) if isinstance(settings, dict) else 4096
    try:
        return device_pages(str(value))
    except argparse.ArgumentTypeError as err:
        raise UsageError(f"{path}: settings.device_pages: {err}", prog=PROG) from None


def write_summary(path: str | None, summary: dict[str, object]) -> None:
    """The run's result as JSON (--summary): what a VM run or the matrix reads back."""
    if path:
        from fuzz.trace import atomic_write_text

        atomic_write_text(Path(path), json.dumps(summary, indent=1) + "\n")


# ---- --vm and --matrix ----


def lane_argv(args: argparse.Namespace) -> list[str]:
    """The lane options of `args` as `swapdiff kernel` arguments for a run elsewhere (a guest,
    a host subprocess); --semantics, --out and --summary are set by the caller."""
    argv = ["--seed", str(args.seed), "--pages", str(args.pages), "--shm-pages", str(args.shm_pages)]
    argv += ["--device-pages", str(args.device_pages), "--ballast", str(args.ballast)]
    if args.time is not None:
        argv += ["--time", f"{args.time}s"]
    if args.steps is not None:
        argv += ["--steps", str(args.steps)]
    if args.replay:
        argv += ["--replay", str(Path(args.replay).absolute())]
    if args.mthp:
        argv += ["--mthp", f"{args.mthp}K", "--large-folios", str(args.large_folios)]
    argv += ["--hibernation-share", f"{args.hibernation_share:g}"]
    if args.record:
        argv += ["--record", str(Path(args.record).absolute())]
    flags = (("--allow-existing", args.allow_existing), ("--shrink", args.shrink))
    return argv + [flag for flag, on in flags if on]


def run_bound(args: argparse.Namespace) -> float:
    """Seconds a lane run may take once started: its budget, setup and teardown, a shrink."""
    from fuzz.kernel.trace import read_kernel_trace
    from fuzz.kernel.vm import SECONDS_PER_STEP, SHRINK_SECONDS, SLACK

    if args.time is not None:
        budget = args.time
    elif args.steps is not None:
        budget = args.steps * SECONDS_PER_STEP
    elif args.replay:
        budget = len(read_kernel_trace(args.replay)[1]) * SECONDS_PER_STEP
    else:
        budget = 30.0
    return budget + SLACK + (SHRINK_SECONDS if args.shrink else 0.0)


def vm_main(args: argparse.Namespace) -> int:
    """`--vm KERNEL` (one guest run) or `--matrix`."""
    from fuzz.kernel.vm import VmError, check_tools

    check_sizes(args)
    if args.large_folios > 64:
        raise UsageError("--large-folios is at most 64", prog=PROG)
    if args.matrix and args.replay:
        raise UsageError("--matrix runs random actions: --replay takes one --vm KERNEL", prog=PROG)
    if args.matrix and args.record:
        raise UsageError("--record takes one --vm KERNEL, not --matrix", prog=PROG)
    out = Path(args.out).absolute()
    if args.record and not Path(args.record).absolute().is_relative_to(out):
        raise UsageError(
            f"--record in a VM run must be under --out ({out}, which the guest shares)", prog=PROG
        )
    if not args.matrix and len(args.vm) > 1:
        raise UsageError("several --vm kernels need --matrix", prog=PROG)
    if args.replay:
        from fuzz.kernel.trace import read_kernel_trace

        read_kernel_trace(args.replay)  # a malformed trace is a one-line error before any boot
    try:
        check_tools()
        return _matrix(args) if args.matrix else _one_vm(args)
    except VmError as err:
        print(f"swapdiff kernel: error: {err}", file=sys.stderr)
        return err.code


def _kernels_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.kernels) if args.kernels else None


def _one_vm(args: argparse.Namespace) -> int:
    from fuzz.kernel.vm import resolve_kernel, run_lane_vm

    kernel = resolve_kernel(args.vm[0], _kernels_dir(args))
    semantics = semantics_for(kernel.release, args.semantics)
    out = Path(args.out).absolute()
    if args.replay:  # into --out, which the guest shares: the host's /var/tmp, /tmp may not show
        out.mkdir(parents=True, exist_ok=True)
        copy = out / "replay.jsonl"
        if Path(args.replay).absolute() != copy:
            shutil.copyfile(args.replay, copy)
        args.replay = str(copy)
    print(
        f"swapdiff kernel --vm: booting {kernel.name} (Linux {kernel.release}), {args.cpus} vCPU, "
        f"{args.memory}; console log: {out / 'console.log'}",
        flush=True,
    )
    run = run_lane_vm(
        kernel,
        [*lane_argv(args), "--semantics", semantics],
        out=out,
        run_seconds=run_bound(args),
        accel=args.accel,
        cpus=args.cpus,
        memory=args.memory,
        boot_timeout=args.boot_timeout,
        setup=args.guest_setup,
    )
    if run.cause is not None:
        print(f"swapdiff kernel --vm: error: {run.cause}", file=sys.stderr)
        return run.exit_code
    boot = "" if run.boot_seconds is None else f"lane started {run.boot_seconds:.0f} s after boot began, "
    print(f"VM ({run.accel}): {boot}{run.seconds:.0f} s in all; exit {run.exit_code}")
    return run.exit_code


def _matrix(args: argparse.Namespace) -> int:
    from fuzz.kernel import matrix
    from fuzz.kernel.vm import KernelImage, VmRun, kernels_in, resolve_kernel, run_lane_vm

    kdir = _kernels_dir(args)
    if args.vm:
        kernels = [resolve_kernel(k, kdir) for k in args.vm]
    elif kdir is not None:
        kernels = kernels_in(kdir)
    else:
        raise UsageError("--matrix needs --kernels DIR (or SWAPDIFF_KERNELS) or --vm KERNEL", prog=PROG)
    out = Path(args.out).absolute()
    known = sorted(RULES, key=version_key)
    base = lane_argv(args)
    bound = run_bound(args)

    def boot(kernel: KernelImage, extra: list[str], where: Path) -> VmRun:
        print(f"== {kernel.name} (Linux {kernel.release}) in a VM; output in {where}", flush=True)
        return run_lane_vm(
            kernel,
            [*base, *extra],
            out=where,
            run_seconds=bound,
            accel=args.accel,
            cpus=args.cpus,
            memory=args.memory,
            boot_timeout=args.boot_timeout,
            setup=args.guest_setup,
            echo=True,
        )

    rows = []
    if not args.no_host:
        print(f"== host (Linux {platform.release()}); output in {out / 'host'}", flush=True)
        rows.append(matrix.host_row(base, args.semantics, known, out / "host"))
    names = [k.name for k in kernels]
    for kernel in kernels:
        where = out / (kernel.name if names.count(kernel.name) == 1 else f"{kernel.name}-{len(rows)}")
        rows.append(matrix.vm_row(kernel, args.semantics, known, where, boot))
    budget = f"{args.time:g} s" if args.time else f"{args.steps} steps" if args.steps else "30 s"
    matrix.render(rows, args.seed, budget)
    path = matrix.write_json(rows, out, {"seed": args.seed, "budget": budget, "lane_args": base})
    print(f"matrix: {path}")
    return matrix.exit_code(rows)
