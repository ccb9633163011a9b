"""Trace minimization: ddmin plus one-by-one removal, keeping the divergence signature."""

from __future__ import annotations

import random

from buggy_impls import PutFreesCached

from fuzz.minimize import ddmin, minimize_trace, minimized_path
from fuzz.replay import make_trace, replay_trace
from reference.api import Call, Entry
from reference.model import ReferenceSwap

GEOMETRY = {"cluster_size": 8, "max_swapfiles": 4}
SWAPON = Call(
    "swapon", {"size": 65, "priority": None, "bad": (), "solidstate": True, "blkdev": True, "discard": "none"}
)


def test_ddmin_finds_a_minimal_subset():
    needed = {3, 17, 42}

    def test(ids):
        return ids if needed <= set(ids) else None

    assert ddmin(tuple(range(60)), test) == (3, 17, 42)


def padded_calls(seed: int) -> list[Call]:
    """The bug trigger (alloc, dup, put of folio 1) buried in noise on other folios."""
    rng = random.Random(seed)
    trigger = [
        Call("folio_new", {"folio": 1, "order": 0}),
        Call("folio_alloc_swap", {"folio": 1}),
        Call("folio_dup_swap", {"folio": 1}),
        Call("folio_put_swap", {"folio": 1}),
    ]
    noise = []
    for folio in range(10, 40):
        noise += [
            Call("folio_new", {"folio": folio, "order": rng.randint(0, 1)}),
            Call("folio_alloc_swap", {"folio": folio}),
        ]
        noise.append(Call("swap_count", {"entry": Entry(0, rng.randint(1, 60))}))
        if rng.random() < 0.5:
            noise.append(Call("folio_dup_swap", {"folio": folio}))
    calls = [SWAPON, *noise]
    for i, call in enumerate(trigger):  # interleave the trigger, in order
        calls.insert(1 + (i + 1) * len(noise) // 5, call)
    return calls + noise[:20]


def test_minimize_keeps_signature_and_drops_noise(tmp_path):
    calls = padded_calls(seed=3)
    trace = make_trace(
        calls, ReferenceSwap, PutFreesCached, geometry=GEOMETRY, seed=3, profile="t", mode="fast"
    )
    original = replay_trace(trace, ReferenceSwap, PutFreesCached).divergence
    assert original is not None and original.signature == ("folio_put_swap", "state")
    result = minimize_trace(trace, ReferenceSwap, PutFreesCached)
    assert result.before == len(calls)
    assert [c.name for c in result.trace.calls] == [
        "swapon",
        "folio_new",
        "folio_alloc_swap",
        "folio_dup_swap",
        "folio_put_swap",
    ]
    assert result.divergence.signature == original.signature
    replayed = replay_trace(result.trace, ReferenceSwap, PutFreesCached)
    assert replayed.divergence.signature == original.signature
    assert replayed.result_drift == [] and replayed.digest_drift == []
    assert result.trace.divergence == {"step": 4, "op": "folio_put_swap", "kind": "state"}


def test_minimized_path():
    assert minimized_path("out/a.jsonl") == "out/a.min.jsonl"
    assert minimized_path("a.min.jsonl") == "a.min.min.jsonl"
    assert minimized_path("trace") == "trace.min.jsonl"
