"""fuzz.checkpoint: a checkpoint restores an episode's world, reference and candidate, each
restore independent of the others and of the original."""

from __future__ import annotations

from fuzz.checkpoint import restore, take
from fuzz.choosers import RandomChooser
from fuzz.impls import build
from fuzz.modes.fast import RecordingExecutor
from fuzz.swarm import episode_setup
from fuzz.world import World
from optimized import OptimizedSwap
from reference import ReferenceSwap
from reference.api import run_call
from reference.digest import snapshot_digest


def _episode(seed: int, steps: int):
    chooser = RandomChooser(seed)
    geo, swarm = episode_setup(chooser, None)
    kw = {"cluster_size": geo.cluster_size, "max_swapfiles": geo.max_swapfiles}
    reference = build(ReferenceSwap, **kw)
    executor = RecordingExecutor(reference, level="allocator")
    world = World(geo, executor, **swarm.world_kwargs())
    world.setup()
    for _ in range(steps):
        world.step(chooser)
    impl = build(OptimizedSwap, **kw)
    for call in executor.calls:
        run_call(impl, call)  # misuse raises nothing here: the result is encoded
    return world, reference, impl, executor


def _continue(world, reference, seed: int, steps: int) -> list:
    executor = RecordingExecutor(reference, level="allocator")
    world.executor = executor
    chooser = RandomChooser(seed)
    for _ in range(steps):
        world.step(chooser)
    return executor.calls


def test_restores_are_independent_copies_that_continue_alike():
    world, reference, impl, executor = _episode(3, 300)
    before = reference.snapshot("allocator").to_json()
    checkpoint = take(world, reference, impl, executor, chunks=2)
    assert checkpoint.calls == tuple(executor.calls) and checkpoint.chunks == 2
    runs = []
    for _ in range(2):
        w, r, i = restore(checkpoint)
        assert w is not world and r is not reference and i is not impl and w.executor is None
        assert w.geometry is world.geometry  # configuration is shared, state is not
        assert r.snapshot("allocator").to_json() == before
        assert i.snapshot("allocator").to_json() == impl.snapshot("allocator").to_json()
        runs.append((_continue(w, r, 9, 200), r.snapshot("allocator").to_json()))
        # The copied digest stays the digest of the copied state.
        assert r.state_digest("allocator") == snapshot_digest(r.snapshot("allocator"))
        r.check_invariants()
    assert runs[0] == runs[1] and runs[0][1] != before
    # The original and the checkpoint are untouched; the original continues as the copies did.
    assert reference.snapshot("allocator").to_json() == before
    assert _continue(world, reference, 9, 200) == runs[0][0]
