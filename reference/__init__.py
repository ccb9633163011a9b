"""The reference model of Linux swap entry management: the specification swapdiff checks.

`reference.api` is the contract every implementation shares; `reference.model.ReferenceSwap`
is the dict-and-list model that defines the behaviour.
"""

from reference.api import Entry, Snapshot, SwapContractError, SwapDevice, diff

__all__ = ["Entry", "ReferenceSwap", "Snapshot", "SwapContractError", "SwapDevice", "diff"]


def __getattr__(name: str):
    # Import the model lazily so `reference.api` stays importable on its own.
    if name == "ReferenceSwap":
        from reference.model import ReferenceSwap

        return ReferenceSwap
    raise AttributeError(name)
