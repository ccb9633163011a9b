"""Executors: how a world issues its API calls (directly, in lockstep, or recorded)."""

from __future__ import annotations

from typing import Any, Protocol

from reference.api import (
    Call,
    SwapImpl,
)


class Executor(Protocol):
    """Runs one API call: returns the Python result, re-raises `SwapContractError`."""

    def call(self, call: Call) -> Any: ...


class DirectExecutor:
    """An executor over a single implementation (no comparison)."""

    def __init__(self, impl: SwapImpl) -> None:
        self.impl = impl
        self.calls = 0

    def call(self, call: Call) -> Any:
        self.calls += 1
        return call.invoke(self.impl)


class MisuseAccepted(AssertionError):
    """A misuse call the contract forbids returned normally instead of raising."""
