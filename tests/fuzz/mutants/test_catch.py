"""Every non-equivalent mutant is caught by fast mode within a small, fixed budget.

One test per mutant so pytest-xdist spreads them; each runs its mutant in a subprocess with a
fresh numba cache (cold compile included), fixed seed 0 and a world-step budget, so the
outcome does not depend on the machine's speed (the time budget is only a safety net).
"""

from __future__ import annotations

import pytest

from fuzz.mutants.catalogue import CATALOGUE, Mutant
from fuzz.mutants.runner import RunConfig, run_mutant

# 100k steps: reclaim-wrong-offset needs a large allocation meeting a range of order-0
# swap-cache folios while swap is over half full, about one 1000-step episode in 60 (seed 0
# catches it at ~73k steps); every other mutant is caught within 20k.
CI_CONFIG = RunConfig(budget=300.0, steps=100_000, mode="fast", seed=0, minimize_seconds=0.0)
SCORED = [m for m in CATALOGUE if m.equivalent is None]


@pytest.mark.slow
@pytest.mark.parametrize("mutant", SCORED, ids=lambda m: m.name)
def test_mutant_is_caught(mutant: Mutant) -> None:
    result = run_mutant(mutant, CI_CONFIG)
    assert result.error is None, result.error
    assert result.status == "caught", (
        f"{mutant.name} survived {result.searched_steps} world steps of profile {mutant.profile}"
    )
    assert result.call and result.kind
    # The failing trace is the diverging episode, cut after its first divergence.
    assert result.trace_len is not None and 1 <= result.trace_len <= result.calls
