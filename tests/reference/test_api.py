"""Tests of the shared contract module `reference.api`: the op-code encoding round trip, batch
`apply` versus direct calls, result encoding, and the snapshot JSON/digest/diff helpers."""

from __future__ import annotations

import json

import pytest

from reference import api
from reference.api import (
    CONTRACT_CODES,
    EINVAL,
    OP_SPECS,
    Call,
    Entry,
    Snapshot,
    contract_code_of_result,
    contract_error_result,
    decode_ops,
    decode_result,
    diff,
    encode_call,
    encode_calls,
    encode_result,
    run_call,
)

# One call per op, with every argument given (the decoder fills in every keyword).
SAMPLES = [
    Call("swapon", {"size": 12, "priority": 5, "bad": (3, 7), "solidstate": False, "blkdev": True,
                    "discard": "pages"}),
    Call("swapon", {"size": 8, "priority": None, "bad": (), "solidstate": True, "blkdev": False,
                    "discard": "once"}),
    Call("swapoff_begin", {"type": 1}),
    Call("swapoff_end", {"type": 2}),
    Call("swapoff_abort", {"type": 3}),
    Call("swap_discard_work", {"type": 0}),
    Call("swap_reclaim_work", {"type": 4}),
    Call("folio_new", {"folio": 7, "order": 2}),
    Call("folio_set", {"folio": 7, "locked": True, "writeback": None, "mapped": False}),
    Call("folio_drop", {"folio": 7}),
    Call("folio_entry", {"folio": 7}),
    Call("folio_alloc_swap", {"folio": 7, "charge_fails": True}),
    Call("folio_dup_swap", {"folio": 7, "page": None, "alloc_fails": True}),
    Call("folio_dup_swap", {"folio": 7, "page": 3, "alloc_fails": False}),
    Call("folio_put_swap", {"folio": 7, "page": 0}),
    Call("folio_put_swap", {"folio": 7, "page": None}),
    Call("folio_free_swap", {"folio": 7}),
    Call("swap_cache_del_folio", {"folio": 7, "shadow": 99}),
    Call("swap_cache_alloc_folio", {"entry": Entry(1, 5), "folio": 9}),
    Call("swapin_folio", {"entry": Entry(1, 4), "folio": 9, "order": 2}),
    Call("swap_put_entries_direct", {"entry": Entry(0, 3), "nr": 4}),
    Call("swap_dup_entry_direct", {"entry": Entry(0, 3), "alloc_fails": True}),
    Call("swap_alloc_hibernation_slot", {"type": 2}),
    Call("swap_free_hibernation_slot", {"entry": Entry(2, 1)}),
    Call("set_pm_suspended_storage", {"flag": True}),
    Call("swap_count", {"entry": Entry(0, 1)}),
    Call("swap_cache_folio", {"entry": Entry(0, 1)}),
    Call("swap_shadow", {"entry": Entry(0, 1)}),
    Call("nr_swap_pages", {}),
    Call("total_swap_pages", {}),
]  # fmt: skip


def test_samples_cover_every_op():
    assert {c.name for c in SAMPLES} == {spec.name for spec in OP_SPECS}


def test_op_table_codes_are_positions_and_named_constants():
    """OP_SPECS is the one op table: codes 0..n-1 in order, each also OP_<NAME>."""
    assert [spec.code for spec in OP_SPECS] == list(range(len(OP_SPECS)))
    for spec in OP_SPECS:
        assert getattr(api, f"OP_{spec.name.upper()}") == spec.code
        assert spec.result in ("int", "bool", "entry")


@pytest.mark.parametrize("call", SAMPLES, ids=str)
def test_encode_decode_round_trip(call):
    record = encode_call(call)
    assert record[0] == api.OPS_BY_NAME[call.name].code
    assert all(isinstance(x, int) for x in record)
    assert decode_ops(record) == [call]


@pytest.mark.parametrize("page", [None, 0, 7, -1, -3])
def test_page_encoding_keeps_none_apart_from_negative_pages(page):
    """A negative page is misuse, not "the whole folio": it must survive encoding as itself."""
    call = Call("folio_dup_swap", {"folio": 5, "page": page, "alloc_fails": False})
    assert decode_ops(encode_call(call))[0].kwargs["page"] == page


def test_negative_page_through_apply_is_page_out_of_range(make):
    """apply() of a put with page -1 raises the same code as the method call."""
    sw = make(cluster_size=4)
    sw.swapon(16)
    sw.folio_new(1, 1)
    assert sw.folio_alloc_swap(1) == 0
    ops = encode_call(Call("folio_put_swap", {"folio": 1, "page": -1}))
    assert list(sw.apply(ops)) == [contract_error_result("page-out-of-range")]


def test_encode_calls_concatenates_records():
    ops = encode_calls(SAMPLES)
    assert ops == [x for c in SAMPLES for x in encode_call(c)]
    assert decode_ops(ops) == SAMPLES


def test_unknown_discard_kind_encodes_as_invalid():
    call = Call("swapon", {"size": 8, "discard": "bogus"})
    (decoded,) = decode_ops(encode_call(call))
    assert decoded.kwargs["discard"] == "invalid"


@pytest.mark.parametrize(
    "ops",
    [[999], [api.OP_FOLIO_NEW, 1], [api.OP_SWAPON, 8, 0, 3, 2, 1], [api.OP_SWAPON, 8, 0, 3, -1]],
    ids=["unknown code", "cut-off record", "cut-off bad list", "negative bad count"],
)
def test_decode_rejects_malformed_ops(ops):
    with pytest.raises(ValueError):
        decode_ops(ops)


def test_encode_unknown_call_name():
    with pytest.raises(ValueError):
        encode_call(Call("swap_frobnicate", {}))


@pytest.mark.parametrize("code", [c for c, _ in CONTRACT_CODES])
def test_contract_error_result_round_trip(code):
    result = contract_error_result(code)
    assert result < -EINVAL
    assert contract_code_of_result(result) == code


@pytest.mark.parametrize("value", [0, 1, 5, -EINVAL, -12, -1, 1 << 40])
def test_ordinary_results_are_not_contract_errors(value):
    assert contract_code_of_result(value) is None


def test_result_encoding():
    assert encode_result("swap_alloc_hibernation_slot", Entry(3, 17)) == (3 << 32) | 17
    assert decode_result("swap_alloc_hibernation_slot", (3 << 32) | 17) == Entry(3, 17)
    assert encode_result("folio_entry", None) == 0
    assert decode_result("folio_entry", 0) is None
    assert encode_result("folio_free_swap", True) == 1
    assert decode_result("folio_free_swap", 0) is False
    assert decode_result("swap_count", 4) == 4
    err = contract_error_result("bad-slot")
    assert decode_result("folio_entry", err) == err


def test_swap_contract_error_rejects_unknown_code():
    with pytest.raises(ValueError):
        api.SwapContractError("no-such-code")


# ---------------------------------------------------------------------------------------------
# apply versus direct calls
# ---------------------------------------------------------------------------------------------

TRACE = [
    Call("swapon", {"size": 12, "priority": None, "bad": (6,), "solidstate": True, "blkdev": True,
                    "discard": "none"}),
    Call("swapon", {"size": 8, "priority": 3, "bad": (), "solidstate": False, "blkdev": True,
                    "discard": "pages"}),
    Call("swapon", {"size": 8, "discard": "bogus"}),
    Call("folio_new", {"folio": 1, "order": 0}),
    Call("folio_alloc_swap", {"folio": 1}),
    Call("folio_entry", {"folio": 1}),
    Call("folio_dup_swap", {"folio": 1, "page": None}),
    Call("folio_dup_swap", {"folio": 1, "page": 0}),
    Call("swap_cache_del_folio", {"folio": 1, "shadow": 42}),
    Call("folio_new", {"folio": 2, "order": 1}),
    Call("folio_alloc_swap", {"folio": 2, "charge_fails": False}),
    Call("folio_set", {"folio": 2, "mapped": True}),
    Call("swap_shadow", {"entry": Entry(1, 1)}),
    Call("swap_count", {"entry": Entry(1, 1)}),
    Call("swap_cache_alloc_folio", {"entry": Entry(1, 1), "folio": 3}),
    Call("swap_alloc_hibernation_slot", {"type": 0}),
    Call("swap_alloc_hibernation_slot", {"type": 5}),
    Call("folio_put_swap", {"folio": 1}),
    Call("folio_put_swap", {"folio": 2}),
    Call("folio_new", {"folio": 0, "order": 0}),
    Call("swap_dup_entry_direct", {"entry": Entry(0, 0)}),
    Call("folio_free_swap", {"folio": 2}),
    Call("swap_put_entries_direct", {"entry": Entry(1, 1), "nr": 1}),
    Call("swap_reclaim_work", {"type": 0}),
    Call("swap_discard_work", {"type": 1}),
    Call("nr_swap_pages", {}),
    Call("total_swap_pages", {}),
    Call("swapoff_begin", {"type": 1}),
    Call("swapoff_end", {"type": 1}),
    Call("set_pm_suspended_storage", {"flag": True}),
]  # fmt: skip


def test_apply_equals_direct_calls(make):
    ops = encode_calls(TRACE)
    batch = make(cluster_size=4)
    direct = make(cluster_size=4)
    results = list(batch.apply(ops))
    expected = [run_call(direct, call) for call in TRACE]
    assert results == expected
    assert batch.snapshot("allocator") == direct.snapshot("allocator")
    # The trace exercises errno, contract-error, entry and None results.
    assert -EINVAL in results
    assert any(contract_code_of_result(r) for r in results)
    assert any(r >> api.ENTRY_SHIFT for r in results if r > 0)
    batch.check_invariants()


def test_shared_apply_matches_implementation_apply(make):
    ops = encode_calls(TRACE)
    own = make(cluster_size=4)
    shared = make(cluster_size=4)
    assert list(own.apply(ops)) == api.apply(shared, ops)
    assert own.snapshot("allocator") == shared.snapshot("allocator")


def test_apply_in_pieces_equals_apply_at_once(make):
    whole = make(cluster_size=4)
    pieces = make(cluster_size=4)
    at_once = list(whole.apply(encode_calls(TRACE)))
    split = list(pieces.apply(encode_calls(TRACE[:10]))) + list(pieces.apply(encode_calls(TRACE[10:])))
    assert at_once == split
    assert whole.snapshot("allocator") == pieces.snapshot("allocator")


# ---------------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------------


def test_snapshot_json_is_sorted_and_compact():
    snap = Snapshot({"b": 1, "a": [1, {"d": None, "c": True}]})
    assert snap.to_json() == '{"a":[1,{"c":true,"d":null}],"b":1}'
    assert len(snap.digest()) == 16
    int(snap.digest(), 16)
    assert snap == Snapshot({"a": [1, {"c": True, "d": None}], "b": 1})
    assert hash(snap) == hash(Snapshot(json.loads(snap.to_json())))


@pytest.mark.parametrize("level", ["contract", "allocator"])
def test_snapshot_is_plain_data_and_stable(make, level):
    a = make(cluster_size=4)
    b = make(cluster_size=4)
    for sw in (a, b):
        sw.apply(encode_calls(TRACE))
    sa, sb = a.snapshot(level), b.snapshot(level)
    assert sa.data["level"] == level
    assert json.loads(sa.to_json()) == sa.data  # plain JSON data, nothing lost
    assert sa.to_json() == sb.to_json()
    assert sa.digest() == sb.digest()
    assert a.snapshot(level).to_json() == sa.to_json()  # taking a snapshot changes nothing


def test_allocator_snapshot_extends_contract_snapshot(make):
    sw = make(cluster_size=4)
    sw.apply(encode_calls(TRACE[:12]))
    contract = sw.snapshot("contract").data
    allocator = sw.snapshot("allocator").data
    for key in ("nr_swap_pages", "total_swap_pages", "slots", "folios"):
        assert allocator[key] == contract[key]
    assert {"percpu", "avail"} <= set(allocator)
    for dev in allocator["devices"].values():
        assert {"clusters", "lists", "hint"} <= set(dev)


def test_snapshot_digest_changes_with_state(make):
    sw = make(cluster_size=4)
    sw.swapon(12)
    before = sw.snapshot("contract")
    sw.folio_new(1, 0)
    assert sw.snapshot("contract").digest() != before.digest()


def test_diff_of_equal_snapshots_is_empty(make):
    sw = make(cluster_size=4)
    sw.apply(encode_calls(TRACE))
    assert diff(sw.snapshot("allocator"), sw.snapshot("allocator")) == []


def test_diff_names_the_differing_paths(make):
    a = make(cluster_size=4)
    b = make(cluster_size=4)
    for sw in (a, b):
        sw.swapon(12)
        sw.folio_new(1, 0)
        sw.folio_alloc_swap(1)
    b.folio_dup_swap(1)
    b.swap_cache_del_folio(1, shadow=5)
    lines = diff(a.snapshot("contract"), b.snapshot("contract"))
    assert any(line.startswith("slots.0.#1") for line in lines), lines
    assert any(line.startswith("folios.#1") for line in lines), lines
    c = make(cluster_size=4)
    c.swapon(12)
    c.swapon(8)
    lines = diff(a.snapshot("contract"), c.snapshot("contract"))
    assert any(line.startswith("nr_swap_pages: ") for line in lines), lines
    assert any(line.startswith("devices.1: missing on the left") for line in lines), lines


def test_diff_of_plain_data():
    left = {"nr_swap_pages": 3, "slots": {"0": [[1, "cached", 0, 4, 0], [2, "swapped", 1, 0, 7]]}}
    right = {"nr_swap_pages": 4, "slots": {"0": [[2, "swapped", 2, 0, 7], [3, "swapped", 1, 0, 0]]}}
    lines = diff(Snapshot(left), right)
    assert "nr_swap_pages: 3 != 4" in lines
    assert "slots.0.#2[1]: 1 != 2" in lines
    assert any(line.startswith("slots.0.#1: left has") for line in lines)
    assert any(line.startswith("slots.0.#3: missing on the left") for line in lines)


def test_diff_limit():
    left = {f"k{i}": i for i in range(100)}
    right = {f"k{i}": i + 1 for i in range(100)}
    assert len(diff(left, right)) == 40
    assert len(diff(left, right, limit=5)) == 5
