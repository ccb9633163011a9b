"""Checkpoints of a fast episode: the world, the reference and the candidate after a kept
prefix, so a guided round (`fuzz.corpus`) continues from there instead of replaying it.

A checkpoint is taken at a round's end, after its last chunk ran on the candidate (a round
that diverged is kept too: continuing it meets its bug again, as replaying it would), and holds
deep copies: restoring it copies again, so one
checkpoint serves every round that continues the same prefix.  The world's configuration
(geometry, profile, its cache of weight tables) is shared, not copied, and the executor is
left out: its recorded calls, results and digests are lists of immutable values kept by
reference (a restored episode appends to new lists), and the restored world gets a new
executor around the restored reference.

Restoring gives the state a replay of the prefix's tape would build (`rebuild` is that
replay, for a prefix whose checkpoint is not at hand: a resumed or distributed campaign), so
whether a round found its checkpoint never changes what it does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Checkpoint:
    """The state after a prefix: `world` (without executor), `reference`, candidate `impl`,
    the prefix's `calls`, `results` and `digests` (None at no per-op level), and `chunks`, the
    number of candidate chunks run (it places the facade windows of the next ones)."""

    world: Any
    reference: Any
    impl: Any
    calls: tuple[Any, ...]
    results: tuple[int, ...]
    digests: tuple[int, ...] | None
    chunks: int


def _copy_world(world: Any, reference: Any) -> tuple[Any, Any]:
    """Deep copies of `world` (its executor left out) and `reference`, sharing the world's
    configuration."""
    memo: dict[int, Any] = {
        id(world.executor): None,
        id(world.geometry): world.geometry,
        id(world.profile): world.profile,
        id(world._tables): world._tables,  # a cache of tables fixed by the profile
        id(world._chooser): None,
    }
    executor, world.executor = world.executor, None
    try:
        return copy.deepcopy((world, reference), memo)
    finally:
        world.executor = executor


def take(world: Any, reference: Any, impl: Any, executor: Any, chunks: int) -> Checkpoint:
    """A checkpoint of an episode whose every recorded call the candidate has run."""
    world_copy, reference_copy = _copy_world(world, reference)
    return Checkpoint(
        world_copy,
        reference_copy,
        copy.deepcopy(impl),
        tuple(executor.calls),
        tuple(executor.results),
        None if executor.digests is None else tuple(executor.digests),
        chunks,
    )


def restore(checkpoint: Checkpoint) -> tuple[Any, Any, Any]:
    """Fresh copies of (world, reference, impl); the caller gives the world its executor."""
    world, reference = _copy_world(checkpoint.world, checkpoint.reference)
    return world, reference, copy.deepcopy(checkpoint.impl)
