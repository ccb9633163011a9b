"""The messages campaign workers send their parent (over a multiprocessing queue or back from
a Dask task): one small frozen dataclass per kind, so both ends name the fields they use."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Steps:
    """World steps a worker finished since its last report (the budget and live rate)."""

    worker: int
    steps: int


@dataclass(frozen=True)
class Round:
    """One finished round: its mode, ops, rule and label counts."""

    worker: int
    mode: str
    ops: int
    rules: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    labelled: bool = False  # the round computed coverage labels
    # State features and pairs (fuzz.features) this worker reached first in the round, the
    # round's kind (fresh or a mutation, fuzz.corpus; "" outside fast mode) and whether its
    # prefix was kept in the worker's corpus.
    features: tuple[str, ...] = ()
    pairs: tuple[str, ...] = ()
    kind: str = ""
    kept: bool = False


@dataclass(frozen=True)
class Tape:
    """The choice tape a guided fast round replays (fuzz.corpus), sent before it runs so the
    parent can rebuild the episode if the round hangs."""

    worker: int
    round: int
    tape: tuple[int, ...]


@dataclass(frozen=True)
class Failure:
    """A new divergence: its signature (op, kind), trace text, description and seed."""

    worker: int
    signature: tuple[str, str]
    trace: str
    described: str
    seed: int


@dataclass(frozen=True)
class Duplicate:
    """A divergence this worker had already reported: only its hit count grows."""

    worker: int
    signature: tuple[str, str]


@dataclass(frozen=True)
class Error:
    """A harness error in a round (the campaign goes on) or in the worker itself."""

    worker: int
    text: str


@dataclass(frozen=True)
class Done:
    """The worker has stopped."""

    worker: int


Message = Steps | Round | Tape | Failure | Duplicate | Error | Done
__all__ = ["Done", "Duplicate", "Error", "Failure", "Message", "Round", "Steps", "Tape"]
