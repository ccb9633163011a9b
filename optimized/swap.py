"""`OptimizedSwap`: the thin Python facade over the Numba kernels.

Each API method turns its Python arguments into one op record of the `reference.api`
encoding (values the contract rejects become sentinels the kernel rejects with the same
code), runs it through that op's kernel (`kernels.op_<call>`), and turns the encoded result
back into Python (a contract error becomes `SwapContractError`).  `apply` runs a whole op
array in one call of `kernels.run_ops`.

A method calls its op kernel directly, not `run_ops`, so that a process compiles (or loads
from numba's cache) only the kernels of the calls it makes, when it first makes them:
`run_ops` dispatches to every op kernel, and numba compiles a function's callees with it,
so the first call of any method through it paid for all 27 (docs/performance.md has the
measurement).  Both paths run the same kernel code, compiled once: `run_ops` reuses the op
kernels a method call compiled, and the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba.core.config import DISABLE_JIT as NUMBA_DISABLE_JIT

from optimized import kernels as k
from optimized import observe
from optimized.firstcall import lock_first_calls
from optimized.state import State, grow, new_state
from reference import api
from reference.api import (
    DISCARD_KINDS,
    SWAPON_BLKDEV,
    SWAPON_DISCARD_SHIFT,
    SWAPON_HAS_PRIORITY,
    SWAPON_SOLIDSTATE,
    VALUE_LIMIT,
    Entry,
    Snapshot,
    SwapContractError,
    SwapDevice,
)

_BIG = VALUE_LIMIT  # any argument at or above this is out of range for every parameter
# The kernel of every op code (`kernels.op_swapon` for OP_SWAPON, ...), as `exec_op` dispatches,
# and the other kernels the facade calls; a process's first call of each one holds the
# machine-wide compile lock (`optimized.firstcall`).
_OP_KERNELS = lock_first_calls({spec.code: getattr(k, f"op_{spec.name}") for spec in api.OP_SPECS})
_K = lock_first_calls(
    {f.__name__: f for f in (k.run_ops, k.run_ops_digest, k.count_ops, k.state_digest, k.check_state)}
)


def _int(value: Any, sentinel: int, low: int = 0) -> int:
    """`value` if it is an int in [low, 2**62), else `sentinel` (which the kernel rejects)."""
    if isinstance(value, int) and low <= value < _BIG:
        return int(value)
    return sentinel


def _opt_bool(value: Any) -> int:
    return -1 if value is None else int(bool(value))


def _level_is_allocator(level: str) -> bool:
    if level not in api.SNAPSHOT_LEVELS:
        raise ValueError(f"snapshot level must be one of {api.SNAPSHOT_LEVELS}, not {level!r}")
    return level == "allocator"


class OptimizedSwap:
    """The Numba implementation of `reference.api.SwapImpl`."""

    def __init__(
        self, cluster_size: int = api.DEFAULT_CLUSTER_SIZE, max_swapfiles: int = api.DEFAULT_MAX_SWAPFILES
    ):
        api.check_geometry(cluster_size, max_swapfiles)
        self.cluster_size = cluster_size
        self.max_swapfiles = max_swapfiles
        self.pmd_order = api.pmd_order(cluster_size)
        self._S: State = new_state(cluster_size, max_swapfiles)

    # ---- running ops ----

    def _run_array(self, ops: np.ndarray, out: np.ndarray) -> np.ndarray:
        pos = 0
        done = 0
        while True:
            pos, done, need = _K["run_ops"](self._S, ops, pos, out, done)
            if need == 0:
                return out
            self._S = grow(self._S, int(need))

    def _run(self, *record: int) -> int:
        ops = np.array(record, dtype=np.int64)
        kernel = _OP_KERNELS[record[0]]
        while True:
            result = int(kernel(self._S, ops, 0))
            if not k.NEED_BASE - 4 <= result <= k.NEED_BASE - 1:
                return result
            self._S = grow(self._S, int(k.NEED_BASE - result))  # nothing changed: grow, run again

    def _call(self, *record: int) -> int:
        """Run one op; raise its contract error, if any."""
        result = self._run(*record)
        code = api.contract_code_of_result(result)
        if code is not None:
            raise SwapContractError(code, "optimized kernel check")
        return result

    def _entry(self, entry: Any) -> tuple[int, int]:
        try:
            type, offset = entry
        except (TypeError, ValueError):
            raise SwapContractError("invalid-argument", f"not a swap entry: {entry!r}") from None
        return _int(type, -1), _int(offset, -1)

    def _run_array_digests(self, ops: np.ndarray, out: np.ndarray, dig: np.ndarray, allocator: bool) -> None:
        pos = 0
        done = 0
        while True:
            pos, done, need = _K["run_ops_digest"](self._S, ops, pos, out, dig, done, allocator)
            if need == 0:
                return
            self._S = grow(self._S, int(need))

    def apply(self, ops: Sequence[int], *, digests: str | None = None) -> Any:
        """Run an encoded op array inside one JIT call; results as an int64 array.

        With `digests` (a snapshot level) the call returns `(results, digests)`: the second
        array holds `state_digest(digests)` after every op, computed inside the same call."""
        try:
            arr = np.ascontiguousarray(ops, dtype=np.int64)
        except (OverflowError, TypeError, ValueError):
            if digests is not None:
                return api.apply(self, ops, digests=digests)
            return np.array(api.apply(self, ops), dtype=object)  # values beyond int64
        if arr.ndim != 1:
            raise ValueError("an op array must be one-dimensional")
        n = int(_K["count_ops"](arr))
        if n < 0:  # like api.apply: a malformed array is rejected before any op runs
            raise SwapContractError("unknown-op", f"unknown op code or cut-off record at index {-n - 1}")
        out = np.zeros(n, dtype=np.int64)
        if digests is None:
            return self._run_array(arr, out)
        allocator = _level_is_allocator(digests)
        dig = np.zeros(n, dtype=np.int64)
        self._run_array_digests(arr, out, dig, allocator)
        return out, dig

    def batch_ready(self, *, digests: bool = False) -> bool:
        """True when `apply` (with `digests=` a level, if `digests`) runs at once: its batch
        kernel is compiled or loaded in this process (or there is no JIT).  Fast mode asks, so
        that a process's first chunks need not wait for the whole batch compile."""
        kernel = k.run_ops_digest if digests else k.run_ops
        return bool(NUMBA_DISABLE_JIT) or bool(kernel.signatures)

    # ---- devices ----

    def swapon(
        self,
        size: int,
        *,
        priority: int | None = None,
        bad: Sequence[int] = (),
        solidstate: bool = True,
        blkdev: bool = True,
        discard: str = "none",
    ) -> int:
        flags = (SWAPON_SOLIDSTATE if solidstate else 0) | (SWAPON_BLKDEV if blkdev else 0)
        flags |= (DISCARD_KINDS.index(discard) if discard in DISCARD_KINDS else 3) << SWAPON_DISCARD_SHIFT
        prio = 0
        if priority is not None:
            flags |= SWAPON_HAS_PRIORITY
            prio = _int(priority, -1)
        if isinstance(bad, (list, tuple)):
            bad_list = [_int(b, 0) for b in bad]
            size_arg = _int(size, 0)
        else:
            bad_list = []
            size_arg = 0  # the reference rejects a non-sequence after the free-type check
        return self._run(api.OP_SWAPON, size_arg, prio, flags, len(bad_list), *bad_list)

    def swapoff_begin(self, type: int) -> int:
        return self._run(api.OP_SWAPOFF_BEGIN, _int(type, -1))

    def swapoff_end(self, type: int) -> int:
        return self._call(api.OP_SWAPOFF_END, _int(type, -1))

    def swapoff_abort(self, type: int) -> int:
        return self._call(api.OP_SWAPOFF_ABORT, _int(type, -1))

    def swap_discard_work(self, type: int) -> int:
        return self._call(api.OP_SWAP_DISCARD_WORK, _int(type, -1))

    def swap_reclaim_work(self, type: int) -> int:
        return self._call(api.OP_SWAP_RECLAIM_WORK, _int(type, -1))

    # ---- folios ----

    def folio_new(self, folio: int, order: int) -> int:
        return self._call(api.OP_FOLIO_NEW, _int(folio, 0), _int(order, -1))

    def folio_set(
        self,
        folio: int,
        *,
        locked: bool | None = None,
        writeback: bool | None = None,
        mapped: bool | None = None,
    ) -> int:
        return self._call(
            api.OP_FOLIO_SET, _int(folio, 0), _opt_bool(locked), _opt_bool(writeback), _opt_bool(mapped)
        )

    def folio_drop(self, folio: int) -> int:
        return self._call(api.OP_FOLIO_DROP, _int(folio, 0))

    def folio_entry(self, folio: int) -> Entry | None:
        return observe.entry_of(self._call(api.OP_FOLIO_ENTRY, _int(folio, 0)))

    # ---- entry management ----

    def folio_alloc_swap(self, folio: int, *, charge_fails: bool = False) -> int:
        return self._call(api.OP_FOLIO_ALLOC_SWAP, _int(folio, 0), int(bool(charge_fails)))

    def folio_dup_swap(self, folio: int, page: int | None = None, *, alloc_fails: bool = False) -> int:
        return self._call(
            api.OP_FOLIO_DUP_SWAP,
            _int(folio, 0),
            -1 if page is None else _int(page, -2),
            int(bool(alloc_fails)),
        )

    def folio_put_swap(self, folio: int, page: int | None = None) -> int:
        return self._call(api.OP_FOLIO_PUT_SWAP, _int(folio, 0), -1 if page is None else _int(page, -2))

    def folio_free_swap(self, folio: int) -> bool:
        return bool(self._call(api.OP_FOLIO_FREE_SWAP, _int(folio, 0)))

    def swap_cache_del_folio(self, folio: int, shadow: int = 0) -> int:
        return self._call(api.OP_SWAP_CACHE_DEL_FOLIO, _int(folio, 0), _int(shadow, -1))

    def swap_cache_alloc_folio(self, entry: Entry, folio: int) -> int:
        return self._call(api.OP_SWAP_CACHE_ALLOC_FOLIO, *self._entry(entry), _int(folio, 0))

    def swapin_folio(self, entry: Entry, folio: int, order: int) -> int:
        return self._call(api.OP_SWAPIN_FOLIO, *self._entry(entry), _int(folio, 0), _int(order, -1))

    def swap_put_entries_direct(self, entry: Entry, nr: int) -> int:
        type, offset = self._entry(entry)
        if isinstance(nr, int) and nr >= _BIG:
            nr = _BIG  # still >= 1, and beyond any max: offset-out-of-range, as in the reference
        return self._call(api.OP_SWAP_PUT_ENTRIES_DIRECT, type, offset, _int(nr, 0, low=1))

    def swap_dup_entry_direct(self, entry: Entry, *, alloc_fails: bool = False) -> int:
        return self._call(api.OP_SWAP_DUP_ENTRY_DIRECT, *self._entry(entry), int(bool(alloc_fails)))

    def swap_alloc_hibernation_slot(self, type: int) -> Entry | None:
        return observe.entry_of(self._run(api.OP_SWAP_ALLOC_HIBERNATION_SLOT, _int(type, -1)))

    def swap_free_hibernation_slot(self, entry: Entry) -> int:
        return self._call(api.OP_SWAP_FREE_HIBERNATION_SLOT, *self._entry(entry))

    def set_pm_suspended_storage(self, flag: bool) -> int:
        return self._run(api.OP_SET_PM_SUSPENDED_STORAGE, int(bool(flag)))

    # ---- observation ----

    def swap_count(self, entry: Entry) -> int:
        return self._call(api.OP_SWAP_COUNT, *self._entry(entry))

    def swap_cache_folio(self, entry: Entry) -> int:
        return self._call(api.OP_SWAP_CACHE_FOLIO, *self._entry(entry))

    def swap_shadow(self, entry: Entry) -> int:
        return self._call(api.OP_SWAP_SHADOW, *self._entry(entry))

    def nr_swap_pages(self) -> int:
        return int(self._S[0][k.G_NR])

    def total_swap_pages(self) -> int:
        return int(self._S[0][k.G_TOTAL])

    def device(self, type: int) -> SwapDevice | None:
        G = self._S[0]
        t = _int(type, -1)
        if t < 0 or t >= self.max_swapfiles or G[k.G_DEV + t * k.DS + k.D_STATE] == 0:
            return None
        return observe.device_record(G, t)

    def state_digest(self, level: str = "allocator") -> int:
        """`reference.digest.snapshot_digest(self.snapshot(level))`, computed in one kernel."""
        return int(_K["state_digest"](self._S, _level_is_allocator(level)))

    def snapshot(self, level: str = "allocator") -> Snapshot:
        if level not in api.SNAPSHOT_LEVELS:
            raise ValueError(f"snapshot level must be one of {api.SNAPSHOT_LEVELS}, not {level!r}")
        return Snapshot(observe.snapshot_data(self._S, level))

    def check_invariants(self) -> None:
        res = _K["check_state"](self._S)
        if res[0] != k.INV_OK:
            raise AssertionError(observe.invariant_message(res))

    # ---- debugging ----

    def debug_state(self) -> dict[str, np.ndarray]:
        """The live state arrays by name (layout in `optimized.kernels`), for tests and
        mutants: writing to them corrupts the model, which `check_invariants()` must notice."""
        return dict(zip(("G", "SL", "BM", "CL", "EXT", "FO", "FH", "BIG"), self._S))
