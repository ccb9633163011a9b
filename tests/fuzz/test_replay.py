"""Lockstep replay: agreement, the first divergence and its kind, and drift against the record."""

from __future__ import annotations

from buggy_impls import HibernationLeak, OffByOneCount, PutFreesCached

from fuzz.replay import make_trace, replay_calls, replay_trace
from reference.api import Call, Entry
from reference.model import ReferenceSwap

GEOMETRY = {"cluster_size": 8, "max_swapfiles": 4}


def swapon(size: int = 33) -> Call:
    return Call(
        "swapon",
        {"size": size, "priority": None, "bad": (), "solidstate": True, "blkdev": True, "discard": "none"},
    )


def scenario() -> list[Call]:
    """Swap out one page, share it (fork), read its count, drop both references."""
    return [
        swapon(),
        Call("folio_new", {"folio": 1, "order": 0}),
        Call("folio_alloc_swap", {"folio": 1}),
        Call("folio_dup_swap", {"folio": 1}),
        Call("swap_dup_entry_direct", {"entry": Entry(0, 1)}),
        Call("swap_count", {"entry": Entry(0, 1)}),
        Call("swap_alloc_hibernation_slot", {"type": 0}),
        Call("folio_put_swap", {"folio": 1}),
        Call("folio_put_swap", {"folio": 1}),
        Call("swap_put_entries_direct", {"entry": Entry(0, 1), "nr": 1}),
    ]


def run(candidate_cls, calls=None):
    return replay_calls(calls or scenario(), ReferenceSwap(**GEOMETRY), candidate_cls(**GEOMETRY))


def test_identical_implementations_agree():
    outcome = run(ReferenceSwap)
    assert outcome.ok and outcome.steps_run == len(scenario())


def test_state_divergence_names_step_call_and_diff():
    outcome = run(HibernationLeak)
    found = outcome.divergence
    assert found is not None and found.signature == ("swap_alloc_hibernation_slot", "state")
    assert found.step == 6 and outcome.steps_run == 7
    text = found.describe()
    assert "divergence at step 6: swap_alloc_hibernation_slot(type=0)" in text
    assert "nr_swap_pages" in text


def test_result_divergence():
    found = run(OffByOneCount).divergence
    assert found is not None and found.signature == ("swap_count", "result")
    assert (found.reference_result, found.candidate_result) == (2, 3)


def test_contract_mismatch_is_its_own_kind():
    # Once the buggy put has dropped folio 1 from the cache, the next put is a contract error
    # with a different code on each side: a different signature from the state divergence.
    prefix = [*scenario()[:4], Call("folio_put_swap", {"folio": 1})]
    ref, cand = ReferenceSwap(**GEOMETRY), PutFreesCached(**GEOMETRY)
    for call in prefix:
        call.invoke(ref)
        call.invoke(cand)
    outcome = replay_calls([Call("folio_put_swap", {"folio": 1})], ref, cand)
    assert outcome.divergence is not None
    assert outcome.divergence.kind == "contract:put-count-zero!=folio-not-in-swapcache"


def test_invariant_and_exception_kinds():
    class Crashes(ReferenceSwap):
        def folio_dup_swap(self, folio, page=None, *, alloc_fails=False):
            raise IndexError("boom")

    class BrokenInvariant(ReferenceSwap):
        def check_invariants(self):
            if self.nr_swap_pages() < 31:
                raise AssertionError("counters disagree")

    assert run(Crashes).divergence.kind == "exception:candidate:IndexError"
    found = run(BrokenInvariant).divergence
    assert found.kind == "invariant:candidate" and "counters disagree" in found.detail


def test_replay_trace_reports_spec_drift():
    trace = make_trace(
        scenario(), ReferenceSwap, ReferenceSwap, geometry=GEOMETRY, seed=None, profile=None, mode=None
    )
    assert replay_trace(trace, ReferenceSwap, ReferenceSwap).result_drift == []
    trace.steps[5].result = 7  # pretend the recorded swap_count was 7
    trace.steps[2].digest = "0000000000000000"
    outcome = replay_trace(trace, ReferenceSwap, ReferenceSwap)
    assert outcome.ok
    assert outcome.result_drift == [(5, 7, 2)]
    assert outcome.digest_drift == [2]
