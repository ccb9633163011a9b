"""Properties of the pure parts of the contract: the op encoding, result encoding and diff()."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from reference.api import (
    CONTRACT_CODES,
    OP_SPECS,
    OPS_BY_NAME,
    SWAPON_HAS_PRIORITY,
    Entry,
    contract_code_of_result,
    contract_error_result,
    decode_ops,
    decode_result,
    diff,
    encode_calls,
    encode_result,
)
from reference.model import ReferenceSwap

WORD = st.integers(-(2**62), 2**62)
TRI_STATE = st.sampled_from([-1, 0, 1])  # folio_set: leave alone, clear, set
FLAG = st.sampled_from([0, 1])


def _param(name: str) -> st.SearchStrategy[int]:
    if name in ("locked", "writeback", "mapped"):
        return TRI_STATE
    if name in ("charge_fails", "alloc_fails", "flag"):
        return FLAG
    return WORD


@st.composite
def op_record(draw: st.DrawFn) -> list[int]:
    """One well-formed op record, as `apply` reads it (arguments in and out of contract)."""
    spec = draw(st.sampled_from(OP_SPECS))
    if spec.name == "swapon":
        flags = draw(st.integers(0, 31))
        priority = draw(WORD) if flags & SWAPON_HAS_PRIORITY else 0
        bad = draw(st.lists(WORD, max_size=4))
        return [spec.code, draw(WORD), priority, flags, len(bad), *bad]
    return [spec.code, *(draw(_param(p)) for p in spec.params)]


op_arrays = st.lists(op_record(), max_size=12).map(lambda records: [x for r in records for x in r])


@given(op_arrays)
def test_decoding_then_encoding_gives_the_same_op_array(ops):
    assert encode_calls(decode_ops(ops)) == ops


@given(op_arrays)
def test_encoding_decoded_calls_decodes_to_the_same_calls(ops):
    calls = decode_ops(ops)
    assert decode_ops(encode_calls(calls)) == calls


@given(op_record(), st.data())
def test_a_cut_off_record_is_a_value_error_never_a_short_call(record, data):
    cut = data.draw(st.integers(1, len(record) - 1)) if len(record) > 1 else None
    if cut is None:
        return  # a record without arguments cannot be cut
    try:
        decode_ops(record[:cut])
    except ValueError as err:
        assert "cut off" in str(err)
    else:
        raise AssertionError(f"{record[:cut]} decoded")


def _ordinary(result: int) -> bool:
    return contract_code_of_result(result) is None


@given(st.sampled_from([s.name for s in OP_SPECS]), st.data())
def test_results_round_trip(name, data):
    kind = OPS_BY_NAME[name].result
    if kind == "entry":
        value = data.draw(st.none() | st.builds(Entry, st.integers(0, 31), st.integers(1, 2**32 - 1)))
    elif kind == "bool":
        value = data.draw(st.booleans())
    else:
        value = data.draw(WORD.filter(_ordinary))
    assert decode_result(name, encode_result(name, value)) == value


@given(st.sampled_from([code for code, _ in CONTRACT_CODES]), st.sampled_from([s.name for s in OP_SPECS]))
def test_a_contract_error_result_decodes_to_itself_for_every_op(code, name):
    result = contract_error_result(code)
    assert contract_code_of_result(result) == code
    assert decode_result(name, result) == result


# ---- diff ----


def _snapshot_after(calls: list[tuple[int, int]]) -> dict:
    swap = ReferenceSwap(cluster_size=4)
    swap.swapon(33, priority=1)
    for folio, order in calls:
        swap.folio_new(folio, order=order)
        swap.folio_alloc_swap(folio)
    return swap.snapshot("allocator").data


folio_plans = st.lists(
    st.tuples(st.integers(1, 40), st.sampled_from([0, 1, 2])), max_size=6, unique_by=lambda t: t[0]
)


@given(folio_plans, folio_plans)
def test_diff_is_empty_exactly_when_snapshots_are_equal(a, b):
    left, right = _snapshot_after(a), _snapshot_after(b)
    assert (diff(left, right) == []) == (left == right)
    assert diff(left, left) == []


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _leaves(sub, (*path, i))
    elif isinstance(value, int) and not isinstance(value, bool):
        yield path


@given(folio_plans, st.data())
def test_diff_names_one_changed_number_once(plan, data):
    """One line per changed number; a changed row key (slot offset, folio id) reads as that
    row missing and a new one present, the way a kernel developer reads it."""
    left = _snapshot_after(plan)
    path = data.draw(st.sampled_from(list(_leaves(left))))
    right = copy.deepcopy(left)
    node = right
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] += 1
    lines = diff(left, right)
    row_key = len(path) >= 2 and path[-1] == 0 and isinstance(path[-2], int)
    if row_key and len(lines) == 2:
        assert "missing on the right" in lines[0] + lines[1]
        assert "missing on the left" in lines[0] + lines[1]
        return
    assert len(lines) == 1
    named = [str(k) for k in path if not isinstance(k, int)]
    assert all(part in lines[0] for part in named), (path, lines)


@given(folio_plans, folio_plans, st.integers(1, 5))
def test_diff_never_reports_more_than_its_limit(a, b, limit):
    assert len(diff(_snapshot_after(a), _snapshot_after(b), limit=limit)) <= limit
