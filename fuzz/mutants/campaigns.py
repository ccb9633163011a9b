"""Mutants through whole campaigns: steps and seconds for `swapdiff fuzz` to catch each one,
guided and unguided (the table of docs/guided-campaigns.md).

`swapdiff mutants` measures the harness's search loop in one process; this runs the real
campaign instead (`--workers`, the time budget, spawned workers, the corpus), once per mutant
and mode, on a mutated copy of `optimized/` put first on the campaign's PYTHONPATH.  The copy is
compiled once (its own `NUMBA_CACHE_DIR`) before its campaigns, so both modes start warm.

    python -m fuzz.mutants.campaigns [--set conjunction] [--only A,B] [--time 60 | --steps N]
        [--workers 2] [--seed 0] [--modes guided,unguided] [--jit] [--work DIR] [--json FILE]

A mutant counts as caught when the campaign reports a divergence; "seconds" is the report's
`first_seen_seconds` (spawn and start-up included, the same for both modes) and "steps" the
campaign's step count at the first throughput sample at or after it.  On a loaded host a time
budget measures the host; `--steps` gives each campaign the steps a time budget buys at a
throughput measured separately (guided and unguided interleaved), and a fast campaign is
deterministic until its first divergence, so the catch is too.  `--work DIR` keeps the mutated
copies (and with `--jit` their compiled kernels) for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fuzz.mutants.apply import write_copy
from fuzz.mutants.catalogue import CATALOGUE, Mutant
from fuzz.mutants.conjunction import SETS

REPO_ROOT = Path(__file__).resolve().parents[2]
WARM_UP = (
    "from fuzz.impls import resolve; from fuzz.modes.fast import run_episode; "
    "run_episode(resolve('reference'), resolve('optimized'), seed=0, steps=300)"
)


def run_one(mutant: Mutant | None, mode: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One campaign on `mutant` (None: the real code) in `mode`; its outcome as a row."""
    root = work / (mutant.name if mutant else "unmutated")
    env = dict(os.environ)
    path = [str(REPO_ROOT)]
    if mutant is not None:
        if not (root / "optimized").exists():
            write_copy(mutant, root)
        path.insert(0, str(root))
        if args.jit:
            env["NUMBA_CACHE_DIR"] = str(root / "numba-cache")
        else:
            env["NUMBA_DISABLE_JIT"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if env.get("NUMBA_DISABLE_JIT") != "1":
        subprocess.run([sys.executable, "-c", WARM_UP], env=env, cwd=work, check=False, capture_output=True)
    out = root / f"out-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    budget = ["--steps", str(args.steps)] if args.steps else ["--time", f"{args.time}s"]
    command = [
        sys.executable,
        "-m",
        "fuzz.cli",
        "fuzz",
        *budget,
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
        "--out",
        str(out),
        "--quiet",
        "--guided" if mode == "guided" else "--no-guided",
    ]
    subprocess.run(command, env=env, cwd=work, check=False, capture_output=True)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    found = report["divergences"]
    first = min((d["first_seen_seconds"] for d in found), default=None)
    steps = None
    if first is not None:
        steps = next((row[1] for row in report["throughput"] if row[0] >= first), report["totals"]["steps"])
    return {
        "mutant": mutant.name if mutant else "(none)",
        "mode": mode,
        "caught": bool(found),
        "seconds": first,
        "steps": steps,
        "signatures": sorted({f"{d['op']} [{d['kind']}]" for d in found}),
        "steps_per_second": report["totals"]["steps_per_second"],
        "features": report["features"]["features"],
        "pairs": report["features"]["pairs"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.mutants.campaigns", description=__doc__)
    parser.add_argument("--set", default="conjunction", choices=("conjunction", "catalogue", "none"))
    parser.add_argument("--only", default=None)
    parser.add_argument("--time", type=float, default=60.0)
    parser.add_argument("--steps", type=int, default=None, help="a step budget instead of --time")
    parser.add_argument("--work", default=None, help="keep the mutated copies here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="guided,unguided")
    parser.add_argument("--jit", action="store_true", help="compile each mutated copy (slow start)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    mutants: list[Mutant | None]
    if args.set == "none":
        mutants = [None]
    else:
        mutants = list(CATALOGUE if args.set == "catalogue" else SETS[args.set])
        if args.only:
            wanted = set(args.only.split(","))
            mutants = [m for m in mutants if m.name in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="swapdiff-campaign-mutants-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for mutant in mutants:
            for mode in args.modes.split(","):
                row = run_one(mutant, mode, args, work)
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
