"""Implementation specs: how `--impl` names an implementation of the swap API, and how to build it.

A spec is `optimized`, `reference`, or `package.module:Class` for any class implementing
`reference.api.SwapImpl`, constructed exactly like `OptimizedSwap`:
`Class(cluster_size=..., max_swapfiles=...)`.  This is how a user validates an optimization
before adopting it: point `swapdiff fuzz --impl mypkg.fast:MySwap` at it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from reference.api import OPS_BY_NAME, SwapImpl
from reference.digest import snapshot_digest

BUILTIN_SPECS = {
    "reference": "reference.model:ReferenceSwap",
    "optimized": "optimized:OptimizedSwap",
}
# Methods a batch `apply` stands in for: every op with an op code.
API_METHODS = tuple(OPS_BY_NAME)
REQUIRED_METHODS = (*API_METHODS, "snapshot", "check_invariants", "apply", "device")


class ImplError(ValueError):
    """An `--impl` spec cannot be resolved to a usable class (one-line message)."""


def resolve(spec: str) -> type:
    """The class a spec names; raises `ImplError` with a one-line reason."""
    target = BUILTIN_SPECS.get(spec, spec)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ImplError(
            f"unknown implementation {spec!r}: use 'optimized', 'reference' or 'package.module:Class'"
        )
    _make_cwd_importable()
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import-time failure of user code is an input error
        raise ImplError(f"cannot import {module_name!r} for --impl {spec!r}: {_oneline(err)}") from None
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ImplError(f"module {module_name!r} has no attribute {attr!r} (--impl {spec!r})")
    if not isinstance(obj, type):
        raise ImplError(f"--impl {spec!r} names a {type(obj).__name__}, not a class")
    missing = [name for name in REQUIRED_METHODS if not callable(getattr(obj, name, None))]
    if missing:
        raise ImplError(f"--impl {spec!r} is not a swap implementation: it lacks {', '.join(missing[:5])}")
    return obj


def spec_of(cls: type) -> str:
    """The spec that resolves back to `cls` (a builtin name when it is one)."""
    for name, target in BUILTIN_SPECS.items():
        module, _, attr = target.partition(":")
        # A class can be re-exported (optimized:OptimizedSwap lives in optimized.swap).
        if getattr(sys.modules.get(module), attr, None) is cls:
            return name
    return f"{cls.__module__}:{cls.__qualname__}"


def build(cls: type, *, cluster_size: int, max_swapfiles: int) -> Any:
    """Construct an implementation the way every swapdiff implementation is constructed."""
    try:
        return cls(cluster_size=cluster_size, max_swapfiles=max_swapfiles)
    except Exception as err:
        raise ImplError(
            f"cannot construct {spec_of(cls)}(cluster_size={cluster_size}, "
            f"max_swapfiles={max_swapfiles}): {_oneline(err)}"
        ) from None


def digest_reader(impl: SwapImpl, level: str) -> Callable[[], int]:
    """A function returning `impl`'s state digest at `level` (`reference.digest`): its own
    `state_digest` when it has one, else the digest of a fresh snapshot (slow, but any
    implementation of the API works)."""
    own = getattr(impl, "state_digest", None)
    if callable(own):
        return functools.partial(own, level)
    return lambda: snapshot_digest(impl.snapshot(level))


def batch_digests(cls: type) -> bool:
    """True when `cls.apply` takes `digests=` (returns the state digest after every op)."""
    apply = getattr(cls, "apply", None)
    if apply is None:
        return False
    try:
        return "digests" in inspect.signature(apply).parameters
    except (TypeError, ValueError):
        return False


def apply_owner(cls: type) -> type | None:
    """The class in `cls`'s MRO that defines `apply`."""
    for klass in cls.__mro__:
        if "apply" in vars(klass):
            return klass
    return None


def batch_bypasses_overrides(cls: type) -> bool:
    """True when `cls` overrides an API method but inherits `apply` from a base.

    The inherited batch `apply` (a JIT kernel, say) would not call the override, so such a
    class must be run op by op: a batch call must never silently skip a user's change.
    """
    owner = apply_owner(cls)
    if owner is None or owner is cls:
        return False
    return any(getattr(cls, name, None) is not getattr(owner, name, None) for name in API_METHODS)


def _make_cwd_importable() -> None:
    # `python -m` puts the working directory on sys.path but console scripts do not; a user
    # naming `mypkg.mod:Class` from their project directory expects it to import.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def _oneline(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
