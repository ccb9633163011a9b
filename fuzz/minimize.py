"""Trace minimization: delta debugging over a failing trace's ops, keeping its divergence.

The target is the divergence signature of the original trace: the op name at the first
divergence and its kind (see `fuzz.replay`).  A candidate subsequence is kept only if its
lockstep replay first diverges with exactly that signature; a run that now only differs by a
contract-error code has a different kind and is rejected.  Dropping ops breaks later calls'
preconditions freely (a put of a folio that no longer exists is a contract error on both
sides, which is agreement), so dependencies are respected by replaying, not by analysis.

Steps: cut the trace after its first divergence; `ddmin` (Zeller's delta debugging) over the
remaining ops, cutting every accepted subsequence after its own divergence; then one-by-one
removal passes until nothing more can go.  The result is written next to the input as
`<name>.min.jsonl` with the reference's results and digests recorded afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fuzz.impls import build
from fuzz.replay import StepDivergence, make_trace, replay_calls
from fuzz.trace import Trace
from reference.api import Call


class MinimizeError(ValueError):
    """The trace cannot be minimized (it does not diverge)."""


@dataclass
class MinimizeResult:
    trace: Trace
    before: int
    after: int
    tests: int
    seconds: float
    divergence: StepDivergence
    capped: bool = False  # the time cap ended the search early


class _Oracle:
    """Replays candidate subsequences and answers: same divergence, cut after it, or None."""

    def __init__(self, trace: Trace, reference_cls: type, candidate_cls: type, level: str) -> None:
        self.kw = {"cluster_size": trace.cluster_size, "max_swapfiles": trace.max_swapfiles}
        self.reference_cls = reference_cls
        self.candidate_cls = candidate_cls
        self.level = level
        self.same_device = trace.same_device
        self.target: tuple[str, str] | None = None
        self.tests = 0
        self.seen: dict[tuple[int, ...], tuple[int, ...] | None] = {}
        self.last: StepDivergence | None = None
        self.invariants = True
        self.deadline: float | None = None
        self.capped = False

    def divergence(self, calls: Sequence[Call], *, invariants: bool | None = None) -> StepDivergence | None:
        self.tests += 1
        reference = build(self.reference_cls, **self.kw)
        candidate = build(self.candidate_cls, **self.kw)
        check = self.invariants if invariants is None else invariants
        return replay_calls(
            calls, reference, candidate, level=self.level, invariants=check, same_device=self.same_device
        ).divergence

    def __call__(self, calls: Sequence[Call], ids: tuple[int, ...]) -> tuple[int, ...] | None:
        if ids in self.seen:
            return self.seen[ids]
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.capped = True  # past the cap every candidate is rejected: the passes unwind
            return None
        found = self.divergence([calls[i] for i in ids])
        kept = None
        if found is not None and found.signature == self.target:
            kept = ids[: found.step + 1]
            self.last = found
        self.seen[ids] = kept
        return kept


def ddmin(ids: tuple[int, ...], test: Callable[[tuple[int, ...]], tuple[int, ...] | None]) -> tuple[int, ...]:
    """Delta debugging: a 1-minimal-ish subsequence of `ids` that `test` still accepts.

    `test` returns the (possibly shortened) accepted subsequence, or None.
    """
    n = 2
    while len(ids) >= 2:
        chunks = _split(ids, n)
        reduced = False
        for chunk in chunks:  # try each chunk alone
            kept = test(chunk)
            if kept is not None:
                ids, n, reduced = kept, 2, True
                break
        if not reduced:
            for i in range(len(chunks)):  # try each complement
                complement = tuple(x for j, c in enumerate(chunks) if j != i for x in c)
                kept = test(complement)
                if kept is not None:
                    ids, n, reduced = kept, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(ids):
                break
            n = min(len(ids), 2 * n)
    return ids


def _split(ids: tuple[int, ...], n: int) -> list[tuple[int, ...]]:
    size, extra = divmod(len(ids), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        if end > start:
            out.append(ids[start:end])
        start = end
    return out


def one_by_one(
    ids: tuple[int, ...], test: Callable[[tuple[int, ...]], tuple[int, ...] | None]
) -> tuple[int, ...]:
    """Drop single ops, last to first, until no single removal keeps the divergence."""
    changed = True
    while changed:
        changed = False
        i = len(ids) - 1
        while i >= 0:
            kept = test(ids[:i] + ids[i + 1 :])
            if kept is not None:
                ids, changed = kept, True
            i = min(i - 1, len(ids) - 1)
    return ids


def minimize_trace(
    trace: Trace,
    reference_cls: type,
    candidate_cls: type,
    *,
    level: str | None = None,
    max_seconds: float | None = None,
) -> MinimizeResult:
    """The smallest subsequence of `trace` found that diverges the same way (within
    `max_seconds`, if given: then the best found so far)."""
    started = time.monotonic()
    level = level or trace.level
    oracle = _Oracle(trace, reference_cls, candidate_cls, level)
    oracle.deadline = None if max_seconds is None else started + max_seconds
    calls = trace.calls
    first = oracle.divergence(calls)
    if first is None:
        raise MinimizeError("the trace does not diverge, so there is nothing to minimize")
    oracle.target = first.signature
    oracle.last = first
    # check_invariants() dominates a replay's cost; unless the divergence is an invariant,
    # search without it and verify the result with it (searching again with it if needed).
    oracle.invariants = first.kind.startswith("invariant")

    def test(candidate: tuple[int, ...]) -> tuple[int, ...] | None:
        return oracle(calls, candidate)

    ids = one_by_one(ddmin(tuple(range(first.step + 1)), test), test)
    final = oracle.divergence([calls[i] for i in ids], invariants=True)
    if final is None or final.signature != first.signature:
        oracle.invariants, oracle.seen = True, {}
        ids = one_by_one(ddmin(tuple(range(first.step + 1)), test), test)
        final = oracle.divergence([calls[i] for i in ids], invariants=True)
    assert final is not None and final.signature == first.signature
    minimized = make_trace(
        [calls[i] for i in ids],
        reference_cls,
        candidate_cls,
        geometry=trace.geometry,
        seed=trace.seed,
        profile=trace.profile,
        mode=trace.mode,
        level=level,
        divergence=final,
        same_device=trace.same_device,
    )
    seconds = time.monotonic() - started
    return MinimizeResult(minimized, len(calls), len(ids), oracle.tests, seconds, final, oracle.capped)


def minimized_path(path: str) -> str:
    """`dir/name.jsonl` -> `dir/name.min.jsonl` (a `.min` input gets another `.min`)."""
    stem = path[: -len(".jsonl")] if path.endswith(".jsonl") else path
    return f"{stem}.min.jsonl"


def describe(result: MinimizeResult) -> dict[str, Any]:
    return {
        "before": result.before,
        "after": result.after,
        "tests": result.tests,
        "seconds": round(result.seconds, 3),
        "signature": list(result.divergence.signature),
        "capped": result.capped,
    }
