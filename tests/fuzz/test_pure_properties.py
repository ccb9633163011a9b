"""Properties of the harness's pure parts: the trace format's round trip and delta debugging."""

from __future__ import annotations

from functools import cache

from hypothesis import given
from hypothesis import strategies as st

from fuzz.minimize import ddmin, one_by_one
from fuzz.modes.fast import episode_calls
from fuzz.trace import Trace, TraceStep, dumps_trace, loads_trace
from reference.api import CONTRACT_CODES, OPS_BY_NAME, Entry, contract_error_result, encode_result
from reference.model import ReferenceSwap


@cache
def _calls(seed: int) -> tuple:
    calls, geometry = episode_calls(ReferenceSwap, seed=seed, count=120, profile="mthp")
    return tuple(calls), geometry.to_dict()


def _result(name: str) -> st.SearchStrategy[int | None]:
    kind = OPS_BY_NAME[name].result
    if kind == "entry":
        value = st.none() | st.builds(Entry, st.integers(0, 31), st.integers(1, 2**32 - 1))
    elif kind == "bool":
        value = st.booleans()
    else:
        value = st.integers(-(2**40), 2**40)
    error = st.sampled_from([code for code, _ in CONTRACT_CODES]).map(contract_error_result)
    return st.none() | error | value.map(lambda v: encode_result(name, v))


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    calls, geometry = _calls(draw(st.integers(0, 7)))
    start = draw(st.integers(0, len(calls) - 1))
    steps = [
        TraceStep(
            call,
            draw(_result(call.name)),
            draw(st.none() | st.integers(0, 2**63 - 1).map(lambda d: f"{d:016x}")),
        )
        for call in calls[start : start + draw(st.integers(0, 30))]
    ]
    return Trace(
        geometry=geometry,
        steps=steps,
        seed=draw(st.none() | st.integers(0, 2**32)),
        profile=draw(st.sampled_from([None, "default", "mthp"])),
        mode=draw(st.sampled_from([None, "fast", "hypothesis"])),
        level=draw(st.sampled_from(["allocator", "contract"])),
    )


@given(traces())
def test_a_trace_survives_its_text_form(trace):
    again = loads_trace(dumps_trace(trace))
    assert again == trace
    assert dumps_trace(again) == dumps_trace(trace)


# ---- delta debugging ----

ids_and_needed = st.lists(st.integers(0, 200), unique=True, min_size=1, max_size=40).flatmap(
    lambda ids: st.tuples(st.just(tuple(ids)), st.sets(st.sampled_from(ids), min_size=1))
)


def _keeps(needed: set[int]):
    """A monotone test: a subsequence still fails when it holds every needed op."""

    def test(sub: tuple[int, ...]) -> tuple[int, ...] | None:
        return sub if needed <= set(sub) else None

    return test


def _is_subsequence(sub: tuple[int, ...], ids: tuple[int, ...]) -> bool:
    it = iter(ids)
    return all(x in it for x in sub)


@given(ids_and_needed)
def test_ddmin_finds_exactly_the_needed_ops_in_order(case):
    ids, needed = case
    found = ddmin(ids, _keeps(needed))
    assert set(found) == needed
    assert _is_subsequence(found, ids)


@given(ids_and_needed)
def test_one_by_one_leaves_a_one_minimal_subsequence(case):
    ids, needed = case
    found = one_by_one(ids, _keeps(needed))
    assert set(found) == needed and _is_subsequence(found, ids)
    for i in range(len(found)):
        assert _keeps(needed)(found[:i] + found[i + 1 :]) is None
