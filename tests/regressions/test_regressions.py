"""Regression traces: every `*.jsonl` trace in this folder replays clean on the real pair.

To turn a divergence into a regression test, copy its trace (from `swapdiff fuzz --out`, best
after `swapdiff minimize`) into this folder once the bug is fixed.  Each trace is replayed in
lockstep, reference vs `optimized.OptimizedSwap` (whatever candidate the trace was recorded
against), comparing results, snapshots and invariants after every op.  A recorded reference
result that no longer matches today's reference means the specification changed since the
trace was written; that is reported as a warning, not a failure.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from fuzz.replay import replay_trace
from fuzz.trace import read_trace
from optimized import OptimizedSwap
from reference.model import ReferenceSwap

TRACES = sorted(Path(__file__).parent.glob("*.jsonl"))


def test_the_folder_holds_traces():
    assert TRACES, "tests/regressions/ should hold at least one trace"


@pytest.mark.parametrize("path", TRACES, ids=[p.name for p in TRACES])
def test_trace_replays_clean(path):
    trace = read_trace(path)
    outcome = replay_trace(trace, ReferenceSwap, OptimizedSwap)
    assert outcome.divergence is None, outcome.divergence.describe()
    assert outcome.steps_run == len(trace.steps)
    if outcome.result_drift:
        step, recorded, now = outcome.result_drift[0]
        warnings.warn(
            f"{path.name}: {len(outcome.result_drift)} recorded reference results differ from today's "
            f"reference (first at step {step}: {recorded} -> {now})",
            stacklevel=1,
        )
