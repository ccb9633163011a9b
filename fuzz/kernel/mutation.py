"""Kernel mutation runs (`swapdiff kernel mutants`): does the lane see what a kernel patch does?

For a Linux source tree: check that every patch applies cleanly (else refuse, before touching
anything), configure the tree for the lane's VMs if it has no .config, build the stock kernel
and run the lane on it once per distinct set of lane options (it must agree: otherwise the
baseline is broken and no mutant can be judged), then for each patch: apply it, build
incrementally, restore the tree, boot the mutant's image and run the lane with the same seed
and budget.  The tree is checked against the SHA-256 of every file any patch names at the end,
however the run ends; a final stock build leaves its image matching its source again.

Outcomes: caught (the lane diverged), missed (it agreed), crashed (the guest kernel panicked
before the lane compared anything), hung (the guest never finished), build failed, guest failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fuzz.cli.args import UsageError
from fuzz.kernel import kbuild
from fuzz.kernel.matrix import first_observable
from fuzz.kernel.rules import closest_rule_set, rules_for_release
from fuzz.kernel.tree import EXIT_BROKEN, KernelTree, Patch, TreeError, terminate_as_interrupt
from fuzz.kernel.vm import DIVERGENCE_TRACES, SECONDS_PER_STEP, SLACK, VmRun

PROG = "swapdiff kernel mutants"
TEARDOWN_GRACE = 90.0  # after a divergence trace, for the lane's teardown under TCG
DETECTED = ("caught", "crashed")
EXIT_MISSED = 1


@dataclass(frozen=True)
class Candidate:
    """One patch to run: a catalogue mutant or a user's --patch."""

    name: str
    patch: Patch
    lane: tuple[str, ...] = ()
    guest_setup: str | None = None
    expect: str = ""  # the catalogue's expectation ("caught", or why not); "" for a user patch


@dataclass(frozen=True)
class Options:
    """The run's seed, budget, VM and build settings (the same for the stock kernel and every
    mutant)."""

    out: Path
    seed: int = 0
    steps: int | None = 300
    seconds: float | None = None
    jobs: int = 2
    semantics: str | None = None
    accel: str = "auto"
    cpus: int = 1
    memory: str = "2G"
    boot_timeout: float | None = None


@dataclass
class Result:
    """One kernel's run: the stock baseline of an option set, or a patch."""

    name: str
    outcome: str
    lane: list[str]
    guest_setup: str | None = None
    step: int | str | None = None  # the first divergent step ("setup": before any action)
    observable: str | None = None  # what differed first
    steps: int | None = None
    build_s: float | None = None
    boot_s: float | None = None
    run_s: float | None = None
    trace: str | None = None
    note: str | None = None
    expect: str = ""
    out: str | None = None


@dataclass
class Machinery:
    """What builds and boots: the real `kbuild` and `vm` functions, or a test's fakes."""

    configure: Callable[[Path, Path], float] = kbuild.configure
    build: Callable[[Path, int, Path], float] = kbuild.build
    boot: Callable[..., VmRun] | None = None  # run_lane_vm's signature; None: the real one

    def run_vm(
        self, tree: KernelTree, argv: list[str], out: Path, opts: Options, bound: float, setup: str | None
    ) -> VmRun:
        from fuzz.kernel.vm import kernel_from_path, run_lane_vm

        boot = self.boot or run_lane_vm
        return boot(
            kernel_from_path(tree.root, tree.root.name),
            argv,
            out=out,
            run_seconds=bound,
            accel=opts.accel,
            cpus=opts.cpus,
            memory=opts.memory,
            boot_timeout=opts.boot_timeout,
            setup=setup,
            echo=True,
            teardown_grace=TEARDOWN_GRACE,
        )


@dataclass
class Report:
    """The run's results and exit code (0 all detected, 1 one missed, 3 build/boot failure)."""

    tree: str
    release: str
    semantics: str
    seed: int
    budget: str
    baseline: list[Result] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    stock_build_s: float | None = None
    configure_s: float | None = None
    tree_restored: bool | None = None
    complete: bool = False  # False while running (mutants.json is rewritten after every patch)
    exit: int = 0


def run_mutants(
    tree: KernelTree,
    candidates: list[Candidate],
    opts: Options,
    machinery: Machinery | None = None,
    say: Callable[[str], None] = print,
) -> Report:
    """Run every candidate (module doc); the tree is as found afterwards, or TreeError (exit 3).
    TreeError/UsageError (exit 2) before anything is touched for a patch that does not apply,
    a .config without what the lane needs, or a release the lane has no rules for."""
    m = machinery or Machinery()
    tree.require_applicable(c.patch for c in candidates)
    files = sorted({f for c in candidates for f in c.patch.files})
    before, git_before = tree.digests(files), tree.git_status()
    missing = kbuild.missing_options(tree.root)
    if missing:
        raise TreeError(
            f"{tree.root / '.config'} lacks {', '.join(missing)}, which the lane needs; enable "
            "them, or move the .config away to let swapdiff write a minimal VM one"
        )
    semantics = _semantics(tree.release, opts.semantics)
    budget = f"{opts.steps} steps" if opts.steps else f"{opts.seconds:g} s"
    report = Report(str(tree.root), tree.release, semantics, opts.seed, budget)
    opts.out.mkdir(parents=True, exist_ok=True)
    try:
        with terminate_as_interrupt():
            _run(tree, candidates, opts, m, say, report)
    finally:
        report.tree_restored = tree.digests(files) == before and tree.git_status() == git_before
        if not report.tree_restored:
            raise TreeError(f"{tree.root} differs from how it was found in {', '.join(files)}", EXIT_BROKEN)
    report.exit = exit_code(report)
    report.complete = True
    return report


def compile_mutants(
    tree: KernelTree,
    candidates: list[Candidate],
    jobs: int,
    out: Path,
    compile_objects: Callable[[Path, list[str], int, Path], float] = kbuild.compile_objects,
    say: Callable[[str], None] = print,
) -> list[Result]:
    """`--compile-only`: each patch applied in turn and the objects of the files it touches
    compiled (no image, no VM); outcome "compiles" or "build failed".  The tree is as found
    afterwards (TreeError exit 3 otherwise); a patch that does not apply: TreeError exit 2."""
    tree.require_applicable(c.patch for c in candidates)
    files = sorted({f for c in candidates for f in c.patch.files})
    before = tree.digests(files)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        with terminate_as_interrupt():
            for c in candidates:
                log = out / f"{c.name}.compile.log"
                try:
                    with tree.applied(c.patch):
                        seconds = compile_objects(tree.root, list(c.patch.files), jobs, log)
                    results.append(Result(c.name, "compiles", [], build_s=round(seconds, 1)))
                except kbuild.BuildError as err:
                    results.append(Result(c.name, "build failed", [], note=str(err)))
                say(
                    f"{c.name}: {results[-1].outcome}"
                    + (f" ({results[-1].note})" if results[-1].note else "")
                )
    finally:
        if tree.digests(files) != before:
            raise TreeError(f"{tree.root} differs from how it was found in {', '.join(files)}", EXIT_BROKEN)
    return results


def _semantics(release: str, chosen: str | None) -> str:
    if chosen is not None:
        return chosen
    rules = rules_for_release(release)
    if rules is None:
        raise UsageError(
            f"the lane has no rule set for Linux {release}; pass --semantics "
            f"{closest_rule_set(release)} to run with the nearest older one",
            prog=PROG,
        )
    return rules.name


def _run(
    tree: KernelTree,
    candidates: list[Candidate],
    opts: Options,
    m: Machinery,
    say: Callable[[str], None],
    report: Report,
) -> None:
    logs = opts.out / "build.log"
    if kbuild.missing_options(tree.root) is None:
        say(f"configuring {tree.root} for the lane's VMs (vng --kconfig + swap, hibernation, loop, THP)")
        report.configure_s = m.configure(tree.root, logs)
    first = not (tree.root / kbuild.IMAGE).is_file()
    say(
        f"building the stock kernel (Linux {tree.release})"
        + (": a first build, 30 min to hours on 2 cores" if first else ", incremental")
        + f"; log: {logs}"
    )
    report.stock_build_s = m.build(tree.root, opts.jobs, logs)
    say(f"stock kernel built in {report.stock_build_s:.0f} s")
    for lane, setup in dict.fromkeys((c.lane, c.guest_setup) for c in candidates):
        name = "stock" if not report.baseline else f"stock-{len(report.baseline)}"
        say(f"== {name}: the stock kernel with lane options {' '.join(lane) or '(defaults)'}")
        base = _lane_run(tree, name, lane, setup, opts, report.semantics, m)
        report.baseline.append(base)
        if base.outcome != "missed":  # "missed" is the stock kernel agreeing
            raise TreeError(
                f"the stock kernel does not agree with the lane ({_describe(base)}; output in "
                f"{base.out}): the baseline is broken, so no mutant can be judged",
                EXIT_BROKEN,
            )
    try:
        for i, c in enumerate(candidates, 1):
            say(f"== [{i}/{len(candidates)}] {c.name}: patching {', '.join(c.patch.files)} and building")
            report.results.append(_one(tree, c, opts, report.semantics, m, logs))
            say(f"== {c.name}: {_describe(report.results[-1])}")
            write_json(report, opts.out)  # an interrupted run keeps what it measured
    except KeyboardInterrupt:
        say("interrupted: the sources are restored; the built image is a mutant's until `make bzImage`")
        raise
    if candidates:
        say("rebuilding the stock kernel, so the tree's image matches its source again")
        m.build(tree.root, opts.jobs, logs)


def _one(tree: KernelTree, c: Candidate, opts: Options, semantics: str, m: Machinery, log: Path) -> Result:
    try:
        with tree.applied(c.patch):
            build_s = m.build(tree.root, opts.jobs, log)
    except kbuild.BuildError as err:
        return Result(c.name, "build failed", list(c.lane), c.guest_setup, note=str(err), expect=c.expect)
    result = _lane_run(tree, c.name, c.lane, c.guest_setup, opts, semantics, m)
    result.build_s, result.expect = build_s, c.expect
    return result


def _lane_run(
    tree: KernelTree,
    name: str,
    lane: tuple[str, ...],
    setup: str | None,
    opts: Options,
    semantics: str,
    m: Machinery,
) -> Result:
    out = (opts.out / name).absolute()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(DIVERGENCE_TRACES):
        stale.unlink()
    argv = ["--seed", str(opts.seed)]
    argv += ["--steps", str(opts.steps)] if opts.steps else ["--time", f"{opts.seconds:g}s"]
    argv += [*lane, "--semantics", semantics]
    bound = (opts.steps * SECONDS_PER_STEP if opts.steps else opts.seconds or 0.0) + SLACK
    run = m.run_vm(tree, argv, out, opts, bound, setup)
    result = classify(run, out)
    result.name, result.lane, result.guest_setup, result.out = name, list(lane), setup, str(out)
    return result


def classify(run: VmRun, out: Path) -> Result:
    """A guest run's outcome (the name and lane fields are the caller's)."""
    s = run.summary or {}
    res = Result("", "", [], steps=s.get("steps"), trace=s.get("trace"))
    if run.boot_seconds is not None:
        res.boot_s = round(run.boot_seconds, 1)
        res.run_s = round(run.seconds - run.boot_seconds, 1)
    if run.exit_code == 0:
        res.outcome = "missed"
    elif run.exit_code == 1:
        res.outcome = "caught"
        res.step = "setup" if s.get("divergence") and s.get("step") is None else s.get("step")
        res.observable = first_observable(s.get("detail"))
    else:
        res.note = run.cause or f"the lane exited {run.exit_code}"
        traces = sorted(out.glob(DIVERGENCE_TRACES))
        if traces:  # written before the teardown that then failed
            res.outcome = "caught"
            res.trace = str(traces[-1])
            res.step, res.observable, res.steps = _from_trace(traces[-1])
            res.note = f"after the divergence: {res.note}"
        elif run.cause and "panicked" in run.cause:
            res.outcome = "crashed"
        elif run.cause and "did not finish" in run.cause:
            res.outcome = "hung"
        else:
            res.outcome = "guest failed"
    return res


def _from_trace(path: Path) -> tuple[int | str | None, str | None, int | None]:
    """(step, first observable, steps) of a divergence trace: its header's divergence and the
    actions after it (the last one diverged).  Read loosely: the guest may have died after it."""
    lines = path.read_text(errors="replace").splitlines()
    try:
        divergence = str(json.loads(lines[0]).get("divergence") or "")
    except (IndexError, ValueError, AttributeError):
        return None, None, None
    if divergence.startswith("setup"):
        return "setup", first_observable(divergence.split(": ", 1)[-1]), 0
    detail = divergence.split("}: ", 1)[1] if "}: " in divergence else divergence
    actions = sum(1 for line in lines[1:] if line.strip())
    return actions - 1, first_observable(detail), actions


def _describe(r: Result) -> str:
    if r.outcome == "caught":
        where = "before any action" if r.step == "setup" else f"at step {r.step}"
        return f"CAUGHT {where}: {r.observable}" + (f" ({r.note})" if r.note else "")
    if r.outcome == "missed":
        return f"missed: the lane agreed for {r.steps} steps"
    return f"{r.outcome.upper()}: {r.note}"


def exit_code(report: Report) -> int:
    """3 if a patch failed to build or its guest failed, else 1 if one was missed, else 0."""
    outcomes = [r.outcome for r in report.results]
    if any(o not in (*DETECTED, "missed") for o in outcomes):
        return EXIT_BROKEN
    return EXIT_MISSED if "missed" in outcomes else 0


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def render(report: Report) -> None:
    """The results as one rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    title = f"swapdiff kernel mutants: Linux {report.release}, seed {report.seed}, {report.budget}"
    table = Table(title=title)
    for col in ("mutant", "result", "first divergence", "steps", "build s", "boot s", "run s"):
        table.add_column(col, justify="right" if col.endswith((" s", "steps")) else "left")
    for r in [*report.baseline, *report.results]:
        first = "" if r.step is None else f"step {r.step}: {r.observable}"
        table.add_row(
            r.name,
            r.outcome,
            first,
            "" if r.steps is None else str(r.steps),
            _seconds(r.build_s if r.build_s is not None else None),
            _seconds(r.boot_s),
            _seconds(r.run_s),
        )
    Console(width=max(160, Console().width), soft_wrap=False).print(table)


def write_json(report: Report, out: Path) -> Path:
    from fuzz.trace import atomic_write_text

    path = out / "mutants.json"
    data: dict[str, Any] = asdict(report)
    data["written"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return path
