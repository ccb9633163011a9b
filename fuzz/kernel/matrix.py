"""The kernel matrix (`swapdiff kernel --matrix`): the same lane run on several kernels, one table.

The host kernel (a `swapdiff kernel` subprocess, where the host can run the lane) and every
kernel of a kernels directory or of the `--vm` list (each booted by `fuzz.kernel.vm`), one
after another with the same seed and budget; each run's output goes to <out>/<name>/.  A
release the lane has no rule set for runs with an explicit one (the newest not newer than the
release), and the table says so.  The result is a rich table and <out>/matrix.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fuzz.kernel.vm import KernelImage, VmError, VmRun, checkout_root


@dataclass
class Row:
    """One kernel's line of the matrix."""

    kernel: str
    release: str
    where: str  # "host" or "vm (tcg)" / "vm (kvm)"
    rules: str  # the rule set the lane ran with
    rules_explicit: bool  # True: passed with --semantics, the release has none of its own
    exit: int | None  # the lane's exit code; None: skipped
    steps: int | None = None
    seconds: float | None = None
    boot_seconds: float | None = None
    step: int | str | None = None  # the first divergence's step ("setup": before any action)
    observable: str | None = None  # what differed first
    trace: str | None = None
    note: str | None = None  # why skipped / why the guest failed
    out: str | None = None

    @property
    def rate(self) -> float | None:
        if self.steps is None or not self.seconds:
            return None
        return self.steps / self.seconds

    def result(self) -> str:
        if self.exit is None:
            return f"skipped: {self.note}"
        if self.exit == 0:
            return "agree"
        if self.exit == 1:
            return f"DIVERGENCE at step {self.step}: {self.observable} ({self.trace})"
        return f"failed (exit {self.exit}): {self.note}"


def version_key(text: str) -> tuple[int, ...]:
    """(major, minor, ...) of a release or rule-set name, for ordering."""
    nums = []
    for part in text.split("-", 1)[0].split("+", 1)[0].split("."):
        if not part.isdigit():
            break
        nums.append(int(part))
    return tuple(nums)


def rules_for(release: str, chosen: str | None, known: list[str]) -> tuple[str, bool]:
    """(rule set, explicit): `chosen` if given; the release's own rule set; else the newest one
    not newer than the release (the oldest if all are newer), marked explicit."""
    if chosen is not None:
        return chosen, True
    for name in known:
        if release == name or release.startswith(name + "."):
            return name, False
    ordered = sorted(known, key=version_key)
    older = [n for n in ordered if version_key(n) <= version_key(release)]
    return (older[-1] if older else ordered[0]), True


def first_observable(detail: str | None) -> str | None:
    """The first problem of a divergence detail ("a; b; c" -> "a")."""
    if not detail:
        return None
    return detail.split("; ", 1)[0]


def _row_from_summary(row: Row, summary: dict[str, Any] | None) -> None:
    if summary is None:
        return
    row.steps = summary.get("steps")
    row.seconds = summary.get("seconds")
    step = summary.get("step")
    row.step = "setup" if summary.get("divergence") and step is None else step
    row.observable = first_observable(summary.get("detail"))
    row.trace = summary.get("trace")
    if summary.get("error"):
        row.note = summary["error"]


def host_row(lane_argv: list[str], chosen: str | None, known: list[str], out: Path) -> Row:
    """The lane on the host kernel, as a subprocess (it takes the host lane lock itself)."""
    release = platform.release()
    rules, explicit = rules_for(release, chosen, known)
    row = Row("host", release, "host", rules, explicit, None, out=str(out))
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.json"
    summary.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "fuzz.cli", "kernel", *lane_argv, "--semantics", rules]
    argv += ["--out", str(out), "--summary", str(summary)]
    env = {**os.environ, "PYTHONPATH": str(checkout_root())}
    run = _echoed(argv, env, out / "lane.out")
    try:
        data = json.loads(summary.read_text())
    except (OSError, ValueError):
        data = None
    _row_from_summary(row, data)
    if run.returncode == 2:  # the host cannot run the lane: a skipped row, with the reason
        row.note = row.note or _last_line(run.stderr) or "the host cannot run the lane"
        return row
    row.exit = run.returncode
    if data is None:
        row.note = _last_line(run.stderr) or f"exited {run.returncode} without a summary"
    return row


def _echoed(argv: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    """Run `argv`, its output shown live and kept in `log` (stderr, a line or two, after it)."""
    lines = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        err = proc.stderr.read()
    print(err, end="", file=sys.stderr, flush=True)
    log.write_text("".join(lines) + err)
    return subprocess.CompletedProcess(argv, proc.returncode, "".join(lines), err)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("swapdiff kernel: error: ") if lines else ""


def vm_row(
    kernel: KernelImage,
    chosen: str | None,
    known: list[str],
    out: Path,
    run: Callable[[KernelImage, list[str], Path], VmRun],
) -> Row:
    """`kernel` in a VM through `run(kernel, extra lane args, out)`."""
    rules, explicit = rules_for(kernel.release, chosen, known)
    row = Row(kernel.name, kernel.release, "vm", rules, explicit, None, out=str(out))
    try:
        result = run(kernel, ["--semantics", rules], out)
    except VmError as err:
        row.exit, row.note = err.code, str(err)
        return row
    row.where = f"vm ({result.accel})"
    row.exit = result.exit_code
    row.boot_seconds = result.boot_seconds
    _row_from_summary(row, result.summary)
    if result.cause is not None:
        row.note = result.cause
    elif row.exit not in (0, 1) and row.note is None:
        row.note = _last_line("\n".join(result.lines)) or "see the guest's output"
    return row


def exit_code(rows: list[Row]) -> int:
    """0 every run agreed, 1 any divergence, else the worst failure (2 or 3); skipped rows
    count for nothing, but a matrix where nothing ran is an error (2)."""
    ran = [r.exit for r in rows if r.exit is not None]
    if not ran:
        return 2
    if 1 in ran:
        return 1
    return max(ran)


def render(rows: list[Row], seed: int, budget: str) -> None:
    """The matrix as one rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"swapdiff kernel matrix (seed {seed}, {budget} each)")
    for col in ("kernel", "release", "where", "rules", "steps", "steps/s", "boot s", "result"):
        table.add_column(col, justify="right" if col in ("steps", "steps/s", "boot s") else "left")
    for r in rows:
        table.add_row(
            r.kernel,
            r.release,
            r.where,
            r.rules + (" (explicit)" if r.rules_explicit else ""),
            "" if r.steps is None else str(r.steps),
            "" if r.rate is None else f"{r.rate:.1f}",
            "" if r.boot_seconds is None else f"{r.boot_seconds:.0f}",
            r.result(),
        )
    Console(width=max(160, Console().width), soft_wrap=False).print(table)


def write_json(rows: list[Row], out: Path, meta: dict[str, Any]) -> Path:
    from fuzz.trace import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    path = out / "matrix.json"
    data = {**meta, "rows": [{**asdict(r), "steps_per_s": r.rate, "result": r.result()} for r in rows]}
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return path
