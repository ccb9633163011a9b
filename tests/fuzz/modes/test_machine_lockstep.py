"""The lockstep executor: what it returns, what it records, and how it reports each kind of
divergence, in the kind vocabulary traces use (result, contract:<ref>!=<cand>, misuse-state,
state, invariant:<side>, exception:<side>:<Type>)."""

from __future__ import annotations

import contextlib

import pytest

from fuzz.lockstep import Divergence, Lockstep
from reference.api import (
    Call,
    Entry,
    SwapContractError,
    contract_error_result,
    encode_result,
)
from reference.digest import digest_hex, snapshot_digest
from reference.model import ReferenceSwap

SWAPON = Call("swapon", {"size": 32})


def _pair(candidate_cls=ReferenceSwap, **kwargs) -> Lockstep:
    return Lockstep(ReferenceSwap(cluster_size=8), candidate_cls(cluster_size=8), **kwargs)


def test_returns_the_reference_value_and_records_encoded_results_and_digests():
    lockstep = _pair()
    assert lockstep.call(SWAPON) == 0
    assert lockstep.call(Call("folio_new", {"folio": 1, "order": 0})) == 0
    assert lockstep.call(Call("folio_alloc_swap", {"folio": 1})) == 0
    entry = lockstep.call(Call("folio_entry", {"folio": 1}))
    assert isinstance(entry, Entry)
    assert [s.result for s in lockstep.history] == [0, 0, 0, encode_result("folio_entry", entry)]
    assert lockstep.history[2].digest == digest_hex(snapshot_digest(lockstep.reference.snapshot("allocator")))
    assert lockstep.history[3].digest == lockstep.history[2].digest  # a query changes nothing


def test_reraises_a_shared_contract_error_and_records_its_code():
    lockstep = _pair()
    lockstep.call(SWAPON)
    with pytest.raises(SwapContractError) as info:
        lockstep.call(Call("swap_dup_entry_direct", {"entry": Entry(0, 5)}))
    assert lockstep.history[-1].result == contract_error_result(info.value.code)


def test_rejects_a_call_without_an_op_code():
    with pytest.raises(ValueError, match="no op code"):
        _pair().call(Call("device", {"type": 0}))


class WrongNrSwapPages(ReferenceSwap):
    def nr_swap_pages(self):
        return super().nr_swap_pages() + 1


class OtherContractCode(ReferenceSwap):
    def swap_dup_entry_direct(self, entry, *, alloc_fails=False):
        raise SwapContractError("bad-slot", "wrong code on purpose")


class ChangesStateThenRaises(ReferenceSwap):
    def swap_dup_entry_direct(self, entry, *, alloc_fails=False):
        self.set_pm_suspended_storage(True)
        return super().swap_dup_entry_direct(entry, alloc_fails=alloc_fails)


class ForgetsPriority(ReferenceSwap):
    def swapon(self, size, **kwargs):
        kwargs["priority"] = None
        return super().swapon(size, **kwargs)


class BrokenInvariants(ReferenceSwap):
    def check_invariants(self):
        if self.devices:
            raise AssertionError("cluster 0: count 3 but 2 used slots")


class Crashes(ReferenceSwap):
    def folio_new(self, folio, order):
        raise IndexError("index 9 is out of bounds for axis 0 with size 8")


def _divergence(candidate_cls, *calls: Call, **kwargs) -> Divergence:
    lockstep = _pair(candidate_cls, **kwargs)
    with pytest.raises(Divergence) as info:
        for call in calls:
            with contextlib.suppress(SwapContractError):
                lockstep.call(call)
        lockstep.finish()  # the end of an example
    return info.value


def test_result_difference_names_step_call_and_both_results():
    err = _divergence(WrongNrSwapPages, SWAPON, Call("nr_swap_pages", {}))
    assert err.step == 1 and err.kind == "result"
    text = str(err)
    assert "step 1: nr_swap_pages()" in text
    assert "reference: 31" in text and "candidate: 32" in text
    assert "0: swapon(size=32) -> 0" in text  # the preceding calls


def test_contract_code_difference():
    err = _divergence(OtherContractCode, SWAPON, Call("swap_dup_entry_direct", {"entry": Entry(0, 5)}))
    assert err.kind == "contract:not-swapped!=bad-slot"
    assert "SwapContractError('not-swapped')" in str(err)
    assert "SwapContractError('bad-slot')" in str(err)


def test_state_change_on_a_contract_error_shows_the_before_after_diff():
    err = _divergence(ChangesStateThenRaises, SWAPON, Call("swap_dup_entry_direct", {"entry": Entry(0, 5)}))
    assert err.kind == "misuse-state"
    assert "the rejected call changed the candidate's snapshot" in str(err)
    assert err.diff == ["pm_suspended_storage: false != true"]


def test_state_difference_shows_the_snapshot_diff():
    err = _divergence(ForgetsPriority, Call("swapon", {"size": 32, "priority": 7}))
    assert err.kind == "state" and err.step == 0
    assert "devices.0.priority: 7 != -1" in str(err)


def test_invariant_failure_names_the_side_and_the_invariant():
    err = _divergence(BrokenInvariants, SWAPON)
    assert err.kind == "invariant:candidate"
    assert "cluster 0: count 3 but 2 used slots" in str(err)


def test_invariants_run_every_full_every_calls_and_at_the_end():
    calls = [SWAPON, *(Call("folio_new", {"folio": f, "order": 0}) for f in range(1, 6))]
    # At the end of the example (finish) with the default interval...
    assert _divergence(BrokenInvariants, *calls).step == len(calls) - 1
    # ...and after the call that completes an interval.
    assert _divergence(BrokenInvariants, *calls, full_every=3).step == 2
    assert _divergence(BrokenInvariants, *calls, full_every=1).step == 0


class HidesAFolio(ReferenceSwap):
    """Its state digest ignores folio flags: only the full-snapshot backstop can see them."""

    def state_digest(self, level="allocator"):
        saved = {fid: f.mapped for fid, f in self.folios.items()}
        for f in self.folios.values():
            f.mapped = False
        try:
            return super().state_digest(level)
        finally:
            for fid, mapped in saved.items():
                self.folios[fid].mapped = mapped

    def folio_new(self, folio, order):
        result = super().folio_new(folio, order)
        self.folio_set(folio, mapped=True)
        return result


def test_the_full_snapshot_backstop_catches_what_a_digest_misses():
    calls = [SWAPON, Call("folio_new", {"folio": 1, "order": 0})]
    err = _divergence(HidesAFolio, *calls)
    assert err.kind == "state" and err.late  # found by the periodic full check
    assert any("folios" in line for line in err.diff)


def test_a_crash_is_a_divergence_with_the_exception():
    err = _divergence(Crashes, SWAPON, Call("folio_new", {"folio": 1, "order": 0}))
    assert err.kind == "exception:candidate:IndexError"
    assert "IndexError: index 9 is out of bounds" in str(err)
