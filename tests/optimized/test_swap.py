"""The facade's method calls use only their own op kernel (behaviour, not timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from optimized import OptimizedSwap
from reference.api import Call, encode_calls

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: which kernels has numba compiled (or loaded from its cache) after a
# few method calls?  A dispatcher's `signatures` lists what it holds for this process.
_PROBE = """
import json
from optimized import OptimizedSwap
from optimized import kernels as k
sw = OptimizedSwap(cluster_size=8)
results = [sw.swapon(64), sw.folio_new(1, 0), sw.folio_alloc_swap(1)]
names = [n for n, f in vars(k).items() if n.startswith("op_") or n in ("run_ops", "run_ops_digest")]
print(json.dumps({"results": results, "entry": list(sw.folio_entry(1)),
                  "loaded": sorted(n for n in names if getattr(vars(k)[n], "signatures", None))}))
"""


def test_method_calls_compile_only_the_kernels_of_their_ops():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_DISABLE_JIT", None)  # the question is about numba's compiled dispatchers
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["results"] == [0, 0, 0] and probe["entry"] == [0, 1]
    # Four method calls: their four op kernels, and neither batch loop (whose compile would
    # have pulled in all 27 op kernels).
    assert probe["loaded"] == ["op_folio_alloc_swap", "op_folio_entry", "op_folio_new", "op_swapon"]


def test_method_calls_and_batch_apply_agree_after_growing_the_state():
    """A method call that needs more room (NEED_* status) grows the arrays and runs again,
    like `apply`: many folios and a large device force the folio table and pool to grow."""
    by_method, by_batch = OptimizedSwap(cluster_size=16), OptimizedSwap(cluster_size=16)
    calls = [Call("swapon", {"size": 4096})]
    for folio in range(1, 300):
        calls += [
            Call("folio_new", {"folio": folio, "order": folio % 3}),
            Call("folio_alloc_swap", {"folio": folio}),
        ]
    method_results = [call.invoke(by_method) for call in calls]
    batch_results = list(by_batch.apply(encode_calls(calls)))
    assert method_results == [0] * len(calls)
    assert batch_results == method_results
    assert by_method.snapshot() == by_batch.snapshot()
    assert len(by_method.debug_state()["FO"]) >= 299 and len(by_method.debug_state()["SL"]) >= 4096
    by_method.check_invariants()
