"""Differential smoke test: seeded random call streams run on the reference and the optimized
model step by step, with equal results and equal allocator snapshots after every step."""

from __future__ import annotations

import random

import pytest
from optcalls import CallGen

from optimized import OptimizedSwap
from reference.api import diff, run_call
from reference.model import ReferenceSwap

STEPS = 250


@pytest.mark.parametrize("seed", range(12))
def test_random_calls_agree_after_every_step(seed):
    cluster_size = (4, 8, 16)[seed % 3]
    ref = ReferenceSwap(cluster_size=cluster_size, max_swapfiles=3)
    opt = OptimizedSwap(cluster_size=cluster_size, max_swapfiles=3)
    gen = CallGen(random.Random(seed), ref)
    for step in range(STEPS):
        call = gen.next()
        expected = run_call(ref, call)
        got = run_call(opt, call)
        assert got == expected, f"step {step}: {call} returned {got}, reference {expected}"
        a, b = ref.snapshot("allocator"), opt.snapshot("allocator")
        assert a == b, f"step {step}: {call}: {diff(a, b)}"
        opt.check_invariants()
