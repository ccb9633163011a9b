"""Fast lockstep mode: batch comparison, override detection, locating the first divergence."""

from __future__ import annotations

from typing import ClassVar

import buggy_impls
import pytest
from buggy_impls import HibernationLeak

from fuzz.impls import API_METHODS, batch_bypasses_overrides
from fuzz.modes.fast import run_episode
from fuzz.replay import replay_trace
from fuzz.trace import dumps_trace
from optimized import OptimizedSwap
from reference.model import ReferenceSwap


class BatchDisagrees(ReferenceSwap):
    """Its own `apply` reports a different last result than its methods do."""

    def apply(self, ops):
        results = list(super().apply(ops))
        results[-1] += 1
        return results


class OwnApply(OptimizedSwap):
    """Overrides a method AND `apply`: its batch is its own business."""

    def swap_count(self, entry):
        return super().swap_count(entry)

    def apply(self, ops):
        return super().apply(ops)


def test_override_detection():
    assert not batch_bypasses_overrides(OptimizedSwap)
    assert not batch_bypasses_overrides(ReferenceSwap)
    assert batch_bypasses_overrides(buggy_impls.OptimizedHibernationLeak)
    assert batch_bypasses_overrides(HibernationLeak)
    assert not batch_bypasses_overrides(OwnApply)


def test_real_pair_agrees_across_chunks():
    for seed in range(3):
        result = run_episode(ReferenceSwap, OptimizedSwap, seed=seed, steps=400, chunk=97, profile="mthp")
        assert result.divergence is None, result.divergence.describe()
        assert result.steps == 400 and result.ops >= 400
        assert sum(result.rules.values()) > 0


def test_an_override_is_never_bypassed_by_the_batch():
    # The bug lives only in a Python override of an optimized method; a batch apply() would
    # run the JIT kernel and miss it.
    found = None
    for seed in range(20):
        result = run_episode(
            ReferenceSwap,
            buggy_impls.OptimizedHibernationLeak,
            seed=seed,
            steps=500,
            chunk=64,
            profile="hibernate",
        )
        if result.divergence is not None:
            found = result
            break
    assert found is not None
    assert found.divergence.signature == ("swap_alloc_hibernation_slot", "state")
    trace = found.trace
    assert len(trace.steps) == found.divergence.step + 1
    assert trace.divergence == found.divergence.summary() and trace.mode == "fast"
    replayed = replay_trace(trace, ReferenceSwap, buggy_impls.OptimizedHibernationLeak)
    assert replayed.divergence.signature == found.divergence.signature
    assert replayed.divergence.step == found.divergence.step


def test_same_seed_same_trace():
    first = run_episode(ReferenceSwap, HibernationLeak, seed=5, steps=800, profile="hibernate")
    second = run_episode(ReferenceSwap, HibernationLeak, seed=5, steps=800, profile="hibernate")
    assert first.trace is not None
    assert dumps_trace(first.trace) == dumps_trace(second.trace)


def test_batch_that_disagrees_with_its_own_methods_is_reported():
    result = run_episode(ReferenceSwap, BatchDisagrees, seed=1, steps=50, chunk=20)
    assert result.divergence is not None and result.divergence.kind == "batch"
    assert result.trace is not None


def test_keep_going_stops_between_chunks():
    seen = []

    def keep_going(steps):
        seen.append(steps)
        return len(seen) < 2

    result = run_episode(ReferenceSwap, ReferenceSwap, seed=2, steps=10_000, chunk=50, keep_going=keep_going)
    assert result.stopped and len(seen) == 2 and sum(seen) == result.steps < 10_000


def test_every_chunk_runs_a_facade_window_through_the_methods():
    from fuzz.modes.fast import FACADE_SHARE, facade_window

    for n in (1, 7, 64, 2000):
        for number in range(5):
            lo, hi = facade_window(11, number, n)
            assert 0 <= lo < hi <= n and hi - lo == max(1, -(-n // FACADE_SHARE))
    assert facade_window(11, 3, 2000) == facade_window(11, 3, 2000)
    assert len({facade_window(seed, 0, 2000) for seed in range(20)}) > 1


def test_default_campaign_catches_a_facade_bug_that_apply_cannot_see(tmp_path):
    # A source edit of optimized/swap.py (the methods a user calls) that the kernels, and so a
    # batch apply(), never run: the default `swapdiff fuzz` (fast mode) must still catch it.
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from fuzz.mutants.apply import write_copy
    from fuzz.mutants.catalogue import select

    (mutant,) = select(["facade-dup-ignores-page"])
    write_copy(mutant, tmp_path)
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_DISABLE_JIT="1")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz.cli", "fuzz", "--steps", "6000", "--profile", "mthp", "--out", "out"],
        cwd=tmp_path,  # its optimized/ (the mutant) comes first on sys.path
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["config"]["mode"] == "fast"
    assert {d["op"] for d in report["divergences"]} == {"folio_dup_swap"}


def test_watch_sees_every_candidate_call_and_the_idle_phases():
    seen = []
    result = run_episode(
        ReferenceSwap, ReferenceSwap, seed=3, steps=300, chunk=50, watch=lambda a, b: seen.append((a, b))
    )
    assert result.divergence is None
    covered = [i for a, b in seen if a < b for i in range(a, b)]
    assert covered == list(range(result.ops))  # every call once, in order
    singles = sum(1 for a, b in seen if b == a + 1)
    assert singles >= result.ops // 8  # the facade windows, one call at a time
    assert seen[-1] == (-1, -1) and (result.ops, result.ops) in seen


class HealingFlag(ReferenceSwap):
    """A transient state bug: the first new folio with id 5 or more starts under writeback,
    and the next call (of any kind) clears the flag before it does anything else, so no
    result ever depends on it and the state is right again by the end of any chunk."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrong = None
        self.done = False

    def heal(self):
        if self.wrong is not None:
            self.folios[self.wrong].writeback = False
            self.wrong = None

    def folio_new(self, folio, order):
        self.heal()
        result = super().folio_new(folio, order)
        if not self.done and isinstance(folio, int) and folio >= 5:
            self.done = True
            self.wrong = folio
            self.folios[folio].writeback = True
        return result


def _healing_first(name):
    def method(self, *args, **kwargs):
        self.heal()
        return getattr(ReferenceSwap, name)(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in API_METHODS:
    if _name != "folio_new":
        setattr(HealingFlag, _name, _healing_first(_name))


def test_a_state_difference_that_heals_inside_a_chunk_is_caught_after_its_op():
    # The chunked check of earlier versions (results per op, state at each chunk's end)
    # sees nothing: the flag is right again long before the chunk ends.
    old = run_episode(ReferenceSwap, HealingFlag, seed=3, steps=300, per_op_state=False)
    assert old.divergence is None
    new = run_episode(ReferenceSwap, HealingFlag, seed=3, steps=300)
    assert new.divergence is not None and new.divergence.kind == "state"
    assert new.divergence.call.name == "folio_new" and new.divergence.call.kwargs["folio"] >= 5
    assert any("writeback" in line or "folios" in line for line in new.divergence.diff)
    # The trace ends at the op that made the difference, and replays to it.
    assert new.trace.steps[-1].call == new.divergence.call
    assert replay_trace(new.trace, ReferenceSwap, HealingFlag).divergence.signature == ("folio_new", "state")


def test_the_lockstep_executor_sees_the_healing_difference_too():
    from fuzz.choosers import RandomChooser
    from fuzz.lockstep import Divergence, Lockstep
    from fuzz.world import World, draw_geometry

    chooser = RandomChooser(3)
    geo = draw_geometry(chooser)
    lockstep = Lockstep(ReferenceSwap(**geo.impl_kwargs()), HealingFlag(**geo.impl_kwargs()))
    world = World(geo, lockstep)
    with pytest.raises(Divergence) as info:
        world.setup()
        for _ in range(300):
            world.step(chooser)
    assert info.value.kind == "state" and info.value.call.name == "folio_new"


class CompilesLate(ReferenceSwap):
    """Its batch is "not ready" until its `apply` first ran: fast mode's view of a JIT candidate
    in a process that has not compiled its batch kernel yet."""

    applied: ClassVar[list[int]] = []

    def batch_ready(self, *, digests: bool = False) -> bool:
        return bool(type(self).applied)

    def apply(self, ops, *, digests=None):
        type(self).applied.append(len(ops))
        return super().apply(ops, digests=digests)


def test_a_cold_batch_waits_behind_method_chunks_of_the_same_size(monkeypatch):
    from collections import Counter

    from fuzz.modes import fast

    monkeypatch.setattr(fast, "_method_chunks", Counter())
    monkeypatch.setattr(CompilesLate, "applied", [])
    seen = []
    first = run_episode(
        ReferenceSwap, CompilesLate, seed=2, steps=1200, chunk=300, watch=lambda a, b: seen.append((a, b))
    )
    assert first.divergence is None
    ends = [a for a, b in seen if a == b and a >= 0]
    batches = [(a, b) for a, b in seen if b > a + 1]
    warm = fast.WARM_CHUNKS
    sizes = [end - start for start, end in zip([0, *ends], ends)]
    assert len(ends) > warm
    for size in sizes[:warm]:  # warming changes the path, never the chunk's size
        assert 300 <= size < 300 + 40  # one world step adds a few calls
    assert batches and all(a >= ends[warm - 1] for a, _ in batches)  # no batch while warming
    assert CompilesLate.applied
    # Once the batch ran, the next episode batches from its first chunk.
    seen.clear()
    second = run_episode(
        ReferenceSwap, CompilesLate, seed=3, steps=100, chunk=300, watch=lambda a, b: seen.append((a, b))
    )
    assert second.divergence is None and any(b > a + 1 for a, b in seen)


def test_a_candidate_without_batch_ready_is_batched_from_its_first_chunk():
    seen = []
    run_episode(
        ReferenceSwap, BatchDisagrees, seed=1, steps=5, chunk=1000, watch=lambda a, b: seen.append((a, b))
    )
    assert any(b > a + 1 for a, b in seen)
