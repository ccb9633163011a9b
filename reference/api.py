"""The contract every swapdiff implementation follows.

This module is the one thing `reference/` and `optimized/` share: the entry type, the errno
values the API returns, the contract errors it raises, the protocol with the documented
preconditions of every call, the op-code encoding that turns a whole trace into one integer
array, a pure-Python `apply` any implementation can reuse, and the snapshot format the
harness compares.  It imports nothing beyond the standard library.

Names follow mm/swapfile.c so a kernel developer finds their way; section numbers ("2.4")
point at `kernel/swap-semantics.md`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Protocol, runtime_checkable

# --------------------------------------------------------------------------------------------
# Entries, errno values, constants
# --------------------------------------------------------------------------------------------


class Entry(NamedTuple):
    """A swap entry: device `type` and slot `offset` (offset 0 is the header, never allocated)."""

    type: int
    offset: int


# The API returns these negated, as the kernel does.
EPERM = 1
ENOENT = 2
EINTR = 4
EAGAIN = 11
ENOMEM = 12
EBUSY = 16
EEXIST = 17
EINVAL = 22

DEFAULT_CLUSTER_SIZE = 512
DEFAULT_MAX_SWAPFILES = 24
MIN_CLUSTER_SIZE = 4
MAX_CLUSTER_SIZE = 512
DEF_SWAP_PRIO = -1
MAX_SWAP_PRIO = 32767
# read_swap_header: (PAGE_SIZE - 10 - 1536) / 4 bad-page entries fit in a 4 KiB header page.
MAX_SWAP_BADPAGES = 637
# A count at or above this needs the cluster's overflow storage (DESIGN decision 3; the phase
# III inline count field holds 0..14, and 15 means "real value in the extend table").
SWAP_COUNT_OVERFLOW = 15
DISCARD_KINDS = ("none", "once", "pages")
# Folio ids and shadows are caller-chosen ints below this bound, so every implementation can
# keep them in a 64-bit word; a larger value is a contract error.
VALUE_LIMIT = 1 << 62

# Cluster flags, numerically as in the kernel: "usable" means flag <= CLUSTER_FLAG_FRAG.
CLUSTER_FLAG_NONE = 0
CLUSTER_FLAG_FREE = 1
CLUSTER_FLAG_NONFULL = 2
CLUSTER_FLAG_FRAG = 3
CLUSTER_FLAG_FULL = 4
CLUSTER_FLAG_DISCARD = 5
CLUSTER_FLAG_NAMES = ("none", "free", "nonfull", "frag", "full", "discard")

# Slot states as they appear in snapshots.
SLOT_CACHED = "cached"
SLOT_SWAPPED = "swapped"
SLOT_BAD = "bad"


def pmd_order(cluster_size: int) -> int:
    """`PMD_ORDER` for a cluster size: the largest folio order that is swapped as one unit."""
    return cluster_size.bit_length() - 1


def check_geometry(cluster_size: int, max_swapfiles: int) -> None:
    """Raise ValueError unless the constructor keywords every implementation takes are valid."""
    if (
        not isinstance(cluster_size, int)
        or cluster_size & (cluster_size - 1)
        or not MIN_CLUSTER_SIZE <= cluster_size <= MAX_CLUSTER_SIZE
    ):
        raise ValueError(f"cluster_size must be a power of two in 4..512, not {cluster_size!r}")
    if not isinstance(max_swapfiles, int) or not 1 <= max_swapfiles <= 64:
        raise ValueError(f"max_swapfiles must be in 1..64, not {max_swapfiles!r}")


def vm_swap_full(nr_swap_pages: int, total_swap_pages: int) -> bool:
    """DESIGN decision 6: fewer than half of the swap pages are free."""
    return nr_swap_pages * 2 < total_swap_pages


# --------------------------------------------------------------------------------------------
# Contract errors
# --------------------------------------------------------------------------------------------

# Stable codes, one per precondition a caller can break (DESIGN decision 11).  The index in
# this tuple is part of the op-code result encoding: append new codes, never reorder.
CONTRACT_CODES: tuple[tuple[str, str], ...] = (
    ("invalid-argument", "an argument has the wrong type or an impossible value"),
    ("invalid-type", "the swap type is out of range or not swapped on"),
    ("offset-out-of-range", "the offset (or the end of the range) is at or beyond the device's max"),
    ("bad-slot", "the slot is BAD (header, bad page or padding) where a used slot is required"),
    ("not-swapped", "the slot has swap count 0 where a count of at least 1 is required"),
    ("not-hibernation-slot", "the slot given to swap_free_hibernation_slot has a count other than 1"),
    ("folio-invalid-id", "a folio id must be a positive integer"),
    ("folio-exists", "the folio id is already live"),
    ("folio-unknown", "no live folio has this id"),
    ("folio-invalid-order", "the folio order is outside 0..PMD_ORDER"),
    ("folio-in-swapcache", "the folio is in the swap cache, which the call forbids"),
    ("folio-not-in-swapcache", "the folio is not in the swap cache, which the call requires"),
    ("folio-writeback", "the folio is under writeback"),
    ("page-out-of-range", "the page index is outside the folio"),
    ("put-count-zero", "folio_put_swap on a slot whose swap count is already 0"),
    ("not-swapping-off", "swapoff_end/swapoff_abort on a device with no swapoff in progress"),
    ("unknown-op", "the op code is not part of the encoding"),
)
CONTRACT_CODE_INDEX = {code: i for i, (code, _) in enumerate(CONTRACT_CODES)}
# A contract error inside `apply` is reported as CONTRACT_ERROR_BASE - index; every other
# result of the API is >= -EINVAL (errno) or non-negative.
CONTRACT_ERROR_BASE = -1000


class SwapContractError(Exception):
    """A call broke its documented precondition; the implementation's state is unchanged.

    `code` is one of `CONTRACT_CODES` and is what differential tests compare; `message` is
    for people and may differ between implementations.
    """

    def __init__(self, code: str, message: str = "") -> None:
        if code not in CONTRACT_CODE_INDEX:
            raise ValueError(f"unknown contract code {code!r}")
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


def contract_error_result(code: str) -> int:
    """The integer `apply` stores for a call that raised `SwapContractError(code)`."""
    return CONTRACT_ERROR_BASE - CONTRACT_CODE_INDEX[code]


def contract_code_of_result(result: int) -> str | None:
    """The contract code an `apply` result stands for, or None for an ordinary result."""
    index = CONTRACT_ERROR_BASE - result
    if 0 <= index < len(CONTRACT_CODES):
        return CONTRACT_CODES[index][0]
    return None


# --------------------------------------------------------------------------------------------
# Device records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwapDevice:
    """What `device(type)` reports about a swapped-on device (`/proc/swaps` and flags)."""

    type: int
    max: int
    pages: int
    inuse: int
    priority: int
    writeok: bool
    on_avail: bool
    swapping_off: bool
    solidstate: bool
    blkdev: bool
    discard: str


_SNAPSHOT_DEVICE_FIELDS = tuple(f.name for f in fields(SwapDevice) if f.name != "type")


def device_snapshot(record: SwapDevice) -> dict[str, Any]:
    """The per-device fields of a contract snapshot: every `SwapDevice` field but `type`."""
    return {name: getattr(record, name) for name in _SNAPSHOT_DEVICE_FIELDS}


# --------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------


@runtime_checkable
class SwapImpl(Protocol):
    """The swap entry management API (DESIGN.md "The API").

    Construct with `Impl(cluster_size=512, max_swapfiles=24)`.  Unless a docstring says
    otherwise, calls return 0, errors are negative errno values, and every documented
    precondition that fails raises `SwapContractError` and changes nothing.  Entries passed in
    must name a swapped-on device (`invalid-type`) and an offset below its `max`
    (`offset-out-of-range`).
    """

    cluster_size: int
    max_swapfiles: int

    # ---- devices (2.9, 2.10, 2.11) ----
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
        """Enable a device of `size` slots (`max`, header included) and return its type.

        `bad` lists bad pages (0 < b < size; a duplicate is -EINVAL); `priority` None means
        -1, else 0..32767; `discard` is "none", "once" or "pages".  -EINVAL for any invalid
        value or a device with no usable slot, -EPERM when every type is in use.
        """
        ...

    def swapoff_begin(self, type: int) -> int:
        """Take an active device off allocation and out of the totals (-EINVAL if not active)."""
        ...

    def swapoff_end(self, type: int) -> int:
        """Finish a swapoff: -EBUSY while slots are in use, else free the type."""
        ...

    def swapoff_abort(self, type: int) -> int:
        """The kernel's swapoff failure path: restore the device and the totals."""
        ...

    def swap_discard_work(self, type: int) -> int:
        """Run the device's discard work: free every cluster on its discard list."""
        ...

    def swap_reclaim_work(self, type: int) -> int:
        """Run the device's full-cluster reclaim work (forced, 2.11.2)."""
        ...

    # ---- folios ----
    def folio_new(self, folio: int, order: int) -> int:
        """Create a live folio of 2**order pages, every flag False."""
        ...

    def folio_set(
        self,
        folio: int,
        *,
        locked: bool | None = None,
        writeback: bool | None = None,
        mapped: bool | None = None,
    ) -> int:
        """Change folio flags; None leaves a flag as it is."""
        ...

    def folio_drop(self, folio: int) -> int:
        """Forget a live folio that is not in the swap cache."""
        ...

    def folio_entry(self, folio: int) -> Entry | None:
        """The first entry of a folio in the swap cache, else None."""
        ...

    # ---- entry management (2.1-2.8) ----
    def folio_alloc_swap(self, folio: int, *, charge_fails: bool = False) -> int:
        """Allocate slots for a folio not in the swap cache and add it there (2.1)."""
        ...

    def folio_dup_swap(self, folio: int, page: int | None = None, *, alloc_fails: bool = False) -> int:
        """+1 on the slot of `page` (all slots if None) of a cached folio (2.2); -ENOMEM if
        overflow storage is needed and `alloc_fails`, with no change."""
        ...

    def folio_put_swap(self, folio: int, page: int | None = None) -> int:
        """-1 on the selected slots of a cached folio; a slot at 0 stays cached (2.2)."""
        ...

    def folio_free_swap(self, folio: int) -> bool:
        """Drop a cached folio from the swap cache if no slot is still referenced (2.3)."""
        ...

    def swap_cache_del_folio(self, folio: int, shadow: int = 0) -> int:
        """Remove a cached folio from the swap cache, leaving `shadow` in referenced slots (2.4)."""
        ...

    def swap_cache_alloc_folio(self, entry: Entry, folio: int) -> int:
        """Order-0 swap-in/readahead: the id of the folio now caching `entry`, or 0 (2.5).
        `folio` is the id for a new folio and must not be live."""
        ...

    def swapin_folio(self, entry: Entry, folio: int, order: int) -> int:
        """Add a new folio of `order` for the aligned range holding `entry`; its id or 0 (2.5)."""
        ...

    def swap_put_entries_direct(self, entry: Entry, nr: int) -> int:
        """Drop one reference from each of `nr` slots (zap), reclaiming where allowed (2.6)."""
        ...

    def swap_dup_entry_direct(self, entry: Entry, *, alloc_fails: bool = False) -> int:
        """Fork: +1 on one slot with count >= 1 (2.7)."""
        ...

    def swap_alloc_hibernation_slot(self, type: int) -> Entry | None:
        """Allocate one slot of `type` for the hibernation image, or None (2.8)."""
        ...

    def swap_free_hibernation_slot(self, entry: Entry) -> int:
        """Free a hibernation slot (count 1) (2.8)."""
        ...

    def set_pm_suspended_storage(self, flag: bool) -> int:
        """Set `pm_suspended_storage()`, which makes swap cache unfreeable."""
        ...

    # ---- observation ----
    def swap_count(self, entry: Entry) -> int:
        """The exact swap count of a slot (0 for FREE and BAD)."""
        ...

    def swap_cache_folio(self, entry: Entry) -> int:
        """The folio caching a slot, or 0."""
        ...

    def swap_shadow(self, entry: Entry) -> int:
        """The shadow of a SWAPPED slot, else 0."""
        ...

    def nr_swap_pages(self) -> int: ...

    def total_swap_pages(self) -> int: ...

    def device(self, type: int) -> SwapDevice | None:
        """The record of a swapped-on device (active or being swapped off), else None."""
        ...

    def snapshot(self, level: str = "allocator") -> Snapshot: ...

    def check_invariants(self) -> None:
        """Raise AssertionError naming the first broken invariant of semantics 3.2."""
        ...

    def apply(self, ops: Sequence[int]) -> Sequence[int]:
        """Run an encoded op array; return one encoded result per op."""
        ...


# --------------------------------------------------------------------------------------------
# Op-code encoding
# --------------------------------------------------------------------------------------------
#
# A trace is one flat integer array of records `[opcode, arg0, arg1, ...]`.  Every op has a
# fixed number of integer arguments, except SWAPON whose last fixed argument `nbad` is followed
# by that many bad pages.  Entries are two arguments (type, offset).  Optional flags use -1 for
# None; a page uses -1 for None and p - 1 for an (invalid) negative page p; `swapon` packs its
# kind into `flags`.
#
# Results are one integer per op: ints as returned, bools as 0/1, None as 0, an Entry as
# `type << 32 | offset` (offset 0 is never returned, so 0 is free for None), and a contract
# error as `contract_error_result(code)`.


class OpSpec(NamedTuple):
    code: int
    name: str
    params: tuple[str, ...]  # encoded integer arguments, in order
    result: str  # "int", "bool", "entry" or "none"


# Named op codes, for implementations that dispatch on them; OP_SPECS below is the table.
OP_SWAPON = 0
OP_SWAPOFF_BEGIN = 1
OP_SWAPOFF_END = 2
OP_SWAPOFF_ABORT = 3
OP_SWAP_DISCARD_WORK = 4
OP_SWAP_RECLAIM_WORK = 5
OP_FOLIO_NEW = 6
OP_FOLIO_SET = 7
OP_FOLIO_DROP = 8
OP_FOLIO_ENTRY = 9
OP_FOLIO_ALLOC_SWAP = 10
OP_FOLIO_DUP_SWAP = 11
OP_FOLIO_PUT_SWAP = 12
OP_FOLIO_FREE_SWAP = 13
OP_SWAP_CACHE_DEL_FOLIO = 14
OP_SWAP_CACHE_ALLOC_FOLIO = 15
OP_SWAPIN_FOLIO = 16
OP_SWAP_PUT_ENTRIES_DIRECT = 17
OP_SWAP_DUP_ENTRY_DIRECT = 18
OP_SWAP_ALLOC_HIBERNATION_SLOT = 19
OP_SWAP_FREE_HIBERNATION_SLOT = 20
OP_SET_PM_SUSPENDED_STORAGE = 21
OP_SWAP_COUNT = 22
OP_SWAP_CACHE_FOLIO = 23
OP_SWAP_SHADOW = 24
OP_NR_SWAP_PAGES = 25
OP_TOTAL_SWAP_PAGES = 26

OP_SPECS: tuple[OpSpec, ...] = (
    OpSpec(OP_SWAPON, "swapon", ("size", "priority", "flags", "nbad"), "int"),
    OpSpec(OP_SWAPOFF_BEGIN, "swapoff_begin", ("type",), "int"),
    OpSpec(OP_SWAPOFF_END, "swapoff_end", ("type",), "int"),
    OpSpec(OP_SWAPOFF_ABORT, "swapoff_abort", ("type",), "int"),
    OpSpec(OP_SWAP_DISCARD_WORK, "swap_discard_work", ("type",), "int"),
    OpSpec(OP_SWAP_RECLAIM_WORK, "swap_reclaim_work", ("type",), "int"),
    OpSpec(OP_FOLIO_NEW, "folio_new", ("folio", "order"), "int"),
    OpSpec(OP_FOLIO_SET, "folio_set", ("folio", "locked", "writeback", "mapped"), "int"),
    OpSpec(OP_FOLIO_DROP, "folio_drop", ("folio",), "int"),
    OpSpec(OP_FOLIO_ENTRY, "folio_entry", ("folio",), "entry"),
    OpSpec(OP_FOLIO_ALLOC_SWAP, "folio_alloc_swap", ("folio", "charge_fails"), "int"),
    OpSpec(OP_FOLIO_DUP_SWAP, "folio_dup_swap", ("folio", "page", "alloc_fails"), "int"),
    OpSpec(OP_FOLIO_PUT_SWAP, "folio_put_swap", ("folio", "page"), "int"),
    OpSpec(OP_FOLIO_FREE_SWAP, "folio_free_swap", ("folio",), "bool"),
    OpSpec(OP_SWAP_CACHE_DEL_FOLIO, "swap_cache_del_folio", ("folio", "shadow"), "int"),
    OpSpec(OP_SWAP_CACHE_ALLOC_FOLIO, "swap_cache_alloc_folio", ("type", "offset", "folio"), "int"),
    OpSpec(OP_SWAPIN_FOLIO, "swapin_folio", ("type", "offset", "folio", "order"), "int"),
    OpSpec(OP_SWAP_PUT_ENTRIES_DIRECT, "swap_put_entries_direct", ("type", "offset", "nr"), "int"),
    OpSpec(OP_SWAP_DUP_ENTRY_DIRECT, "swap_dup_entry_direct", ("type", "offset", "alloc_fails"), "int"),
    OpSpec(OP_SWAP_ALLOC_HIBERNATION_SLOT, "swap_alloc_hibernation_slot", ("type",), "entry"),
    OpSpec(OP_SWAP_FREE_HIBERNATION_SLOT, "swap_free_hibernation_slot", ("type", "offset"), "int"),
    OpSpec(OP_SET_PM_SUSPENDED_STORAGE, "set_pm_suspended_storage", ("flag",), "int"),
    OpSpec(OP_SWAP_COUNT, "swap_count", ("type", "offset"), "int"),
    OpSpec(OP_SWAP_CACHE_FOLIO, "swap_cache_folio", ("type", "offset"), "int"),
    OpSpec(OP_SWAP_SHADOW, "swap_shadow", ("type", "offset"), "int"),
    OpSpec(OP_NR_SWAP_PAGES, "nr_swap_pages", (), "int"),
    OpSpec(OP_TOTAL_SWAP_PAGES, "total_swap_pages", (), "int"),
)
OPS_BY_NAME = {spec.name: spec for spec in OP_SPECS}
OPS_BY_CODE = {spec.code: spec for spec in OP_SPECS}

# swapon `flags` bits
SWAPON_SOLIDSTATE = 1
SWAPON_BLKDEV = 2
SWAPON_DISCARD_SHIFT = 2  # 2 bits: index into DISCARD_KINDS, 3 = invalid kind
SWAPON_HAS_PRIORITY = 16

ENTRY_SHIFT = 32


class Call(NamedTuple):
    """One API call in Python form: the method name and its keyword arguments.

    Keyword arguments are the method's own parameter names (`entry` as an `Entry`), so
    `call.invoke(impl)` is exactly `getattr(impl, name)(**kwargs)`.
    """

    name: str
    kwargs: dict[str, Any]

    def invoke(self, impl: SwapImpl) -> Any:
        entry_first = "entry" in self.kwargs
        if entry_first:
            kwargs = dict(self.kwargs)
            entry = kwargs.pop("entry")
            return getattr(impl, self.name)(entry, **kwargs)
        return getattr(impl, self.name)(**self.kwargs)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={_show(v)}" for k, v in self.kwargs.items())
        return f"{self.name}({args})"


def _show(value: Any) -> str:
    if isinstance(value, Entry):
        return f"Entry({value.type}, {value.offset})"
    return repr(value)


def _opt_bool(value: bool | None) -> int:
    return -1 if value is None else int(bool(value))


def _opt_from(value: int) -> bool | None:
    return None if value < 0 else bool(value)


def _encode_page(page: int | None) -> int:
    # -1 is None; a negative (invalid) page p is stored as p - 1 so misuse survives encoding.
    if page is None:
        return -1
    return int(page) if page >= 0 else int(page) - 1


def _decode_page(value: int) -> int | None:
    if value == -1:
        return None
    return value if value >= 0 else value + 1


def encode_call(call: Call) -> list[int]:
    """The op record of one call."""
    spec = OPS_BY_NAME.get(call.name)
    if spec is None:
        raise ValueError(f"no op code for {call.name!r}")
    kw = call.kwargs
    if spec.name == "swapon":
        discard = kw.get("discard", "none")
        kind = DISCARD_KINDS.index(discard) if discard in DISCARD_KINDS else 3
        flags = (
            (SWAPON_SOLIDSTATE if kw.get("solidstate", True) else 0)
            | (SWAPON_BLKDEV if kw.get("blkdev", True) else 0)
            | (kind << SWAPON_DISCARD_SHIFT)
            | (0 if kw.get("priority") is None else SWAPON_HAS_PRIORITY)
        )
        bad = [int(b) for b in kw.get("bad", ())]
        priority = kw.get("priority")
        return [spec.code, int(kw["size"]), 0 if priority is None else int(priority), flags, len(bad), *bad]
    record = [spec.code]
    for param in spec.params:
        if param in ("type", "offset") and "entry" in kw:
            entry = kw["entry"]
            record.append(int(entry.type if param == "type" else entry.offset))
        elif param in ("locked", "writeback", "mapped"):
            record.append(_opt_bool(kw.get(param)))
        elif param == "page":
            record.append(_encode_page(kw.get("page")))
        elif param in ("charge_fails", "alloc_fails", "flag"):
            record.append(int(bool(kw.get(param, False))))
        elif param == "shadow":
            record.append(int(kw.get("shadow", 0)))
        else:
            record.append(int(kw[param]))
    return record


def encode_calls(calls: Iterable[Call]) -> list[int]:
    """One flat op array for a sequence of calls."""
    ops: list[int] = []
    for call in calls:
        ops.extend(encode_call(call))
    return ops


def decode_ops(ops: Sequence[int]) -> list[Call]:
    """The calls of an op array; raises ValueError on an unknown code or a cut-off record."""
    if hasattr(ops, "tolist"):  # a numpy op array: Python ints once, not numpy scalars per item
        ops = ops.tolist()
    calls = []
    i = 0
    n = len(ops)
    while i < n:
        code = int(ops[i])
        spec = OPS_BY_CODE.get(code)
        if spec is None:
            raise ValueError(f"unknown op code {code} at index {i}")
        end = i + 1 + len(spec.params)
        if end > n:
            raise ValueError(f"op {spec.name} at index {i} is cut off")
        args = [int(x) for x in ops[i + 1 : end]]
        if spec.name == "swapon":
            nbad = args[3]
            if nbad < 0 or end + nbad > n:
                raise ValueError(f"swapon at index {i} has a bad-page list that is cut off")
            bad = [int(x) for x in ops[end : end + nbad]]
            end += nbad
        calls.append(_decode_call(spec, args, bad if spec.name == "swapon" else ()))
        i = end
    return calls


def _decode_call(spec: OpSpec, args: list[int], bad: Sequence[int]) -> Call:
    if spec.name == "swapon":
        size, priority, flags, _ = args
        kind = (flags >> SWAPON_DISCARD_SHIFT) & 3
        return Call(
            "swapon",
            {
                "size": size,
                "priority": priority if flags & SWAPON_HAS_PRIORITY else None,
                "bad": tuple(bad),
                "solidstate": bool(flags & SWAPON_SOLIDSTATE),
                "blkdev": bool(flags & SWAPON_BLKDEV),
                "discard": DISCARD_KINDS[kind] if kind < 3 else "invalid",
            },
        )
    values = dict(zip(spec.params, args))
    kwargs: dict[str, Any] = {}
    if "offset" in values:
        kwargs["entry"] = Entry(values.pop("type"), values.pop("offset"))
    for param, value in values.items():
        if param in ("locked", "writeback", "mapped"):
            kwargs[param] = _opt_from(value)
        elif param == "page":
            kwargs[param] = _decode_page(value)
        elif param in ("charge_fails", "alloc_fails", "flag"):
            kwargs[param] = bool(value)
        else:
            kwargs[param] = value
    return Call(spec.name, kwargs)


def encode_result(name: str, value: Any) -> int:
    """The integer `apply` stores for the Python return value of op `name`."""
    kind = OPS_BY_NAME[name].result
    if kind == "entry":
        return 0 if value is None else (int(value.type) << ENTRY_SHIFT) | int(value.offset)
    if kind == "bool":
        return int(bool(value))
    return int(value)


def decode_result(name: str, result: int) -> Any:
    """The Python value an encoded result stands for (contract errors come back as ints)."""
    if contract_code_of_result(result) is not None:
        return result
    kind = OPS_BY_NAME[name].result
    if kind == "entry":
        return None if result == 0 else Entry(result >> ENTRY_SHIFT, result & ((1 << ENTRY_SHIFT) - 1))
    if kind == "bool":
        return bool(result)
    return result


def run_call(impl: SwapImpl, call: Call) -> int:
    """Invoke one call and encode its outcome, contract errors included."""
    try:
        value = call.invoke(impl)
    except SwapContractError as err:
        return contract_error_result(err.code)
    return encode_result(call.name, value)


def apply(impl: Any, ops: Sequence[int], *, digests: str | None = None) -> Any:
    """Run an op array one call at a time through `impl`'s Python methods.

    This is the batch mode of the reference and the fallback for any implementation without
    its own; a contract error is stored as its encoded result and the run goes on.  An array
    that does not decode (unknown op code, cut-off record) raises `unknown-op` before any call.
    With `digests` (a snapshot level) it returns `(results, digests)`, the second list holding
    `impl.state_digest(digests)` after every call.
    """
    try:
        calls = decode_ops(ops)
    except ValueError as err:
        # Decoding happens before any call runs, so a malformed array changes nothing.
        raise SwapContractError("unknown-op", str(err)) from None
    if digests is None:
        return [run_call(impl, call) for call in calls]
    results, after = [], []
    for call in calls:
        results.append(run_call(impl, call))
        after.append(impl.state_digest(digests))
    return results, after


# --------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------

SNAPSHOT_LEVELS = ("contract", "allocator")

# State digests (reference/digest.py defines them): the sum modulo 2**63 of hash() of one int
# tuple per snapshot record; these are the tags and sentinels of those tuples, shared by
# every implementation that computes a digest itself.
DIGEST_MASK = (1 << 63) - 1

# Record tags.  Ints only: str hashes differ between processes.
R_GLOBAL = 1
R_DEVICE = 2
R_SLOT = 3
R_FOLIO = 4
R_CLUSTER = 5
R_LINK = 6
R_HINT = 7
R_PERCPU = 8
R_AVAIL = 9
LINK_HEAD = -1
LINK_END = -2

# Cluster list codes of a link record (orders are at most 9).
LIST_FREE = 0
LIST_FULL = 1
LIST_DISCARD = 2
LIST_NONFULL = 16  # + order
LIST_FRAG = 32  # + order


@dataclass(frozen=True)
class Snapshot:
    """Observable state as plain JSON-able data (dicts with str keys, lists, ints, bools,
    strings, None).

    Level "contract":
      {"level", "nr_swap_pages", "total_swap_pages", "pm_suspended_storage",
       "devices": {str(type): {"max", "pages", "inuse", "priority", "writeok", "on_avail",
                               "swapping_off", "solidstate", "blkdev", "discard"}},
       "slots": {str(type): [[offset, state, count, folio, shadow], ...]}  # non-FREE, by offset
       "folios": [[id, order, entry-or-None ([type, offset]), locked, writeback, mapped], ...]}
    Level "allocator" adds, per device, "clusters": [[count, flag-name, order], ...],
    "lists": {"free": [...], "nonfull": [[...] per order], "frag": [[...] per order],
    "full": [...], "discard": [...]} (cluster indexes in list order) and "hint": the
    per-device next offset per order (rotational devices; zeros otherwise); and globally
    "percpu": [[type, offset] or None per order] and "avail": types in avail-list order.
    """

    data: dict[str, Any]

    def to_json(self) -> str:
        """The stable JSON form: sorted keys, no whitespace."""
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """A short content hash of `to_json()` (16 hex digits)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())


def diff(a: Snapshot | dict, b: Snapshot | dict, *, limit: int = 40) -> list[str]:
    """Human-readable paths where two snapshots differ, e.g. `devices.0.inuse: 3 != 4`."""
    left = a.data if isinstance(a, Snapshot) else a
    right = b.data if isinstance(b, Snapshot) else b
    out: list[str] = []
    _diff(left, right, "", out, limit)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    where = path or "<root>"
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{sub}: missing on the left, right has {_short(b[key])}")
            elif key not in b:
                out.append(f"{sub}: left has {_short(a[key])}, missing on the right")
            else:
                _diff(a[key], b[key], sub, out, limit)
            if len(out) >= limit:
                return
    elif isinstance(a, list) and isinstance(b, list) and _is_keyed_rows(a) and _is_keyed_rows(b):
        _diff(_rows_by_key(a), _rows_by_key(b), path, out, limit)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out, limit)
    elif a != b:
        out.append(f"{where}: {_short(a)} != {_short(b)}")


def _is_keyed_rows(rows: list) -> bool:
    # Slot and folio rows start with their key (offset or folio id); compare them by key so a
    # single missing slot reads as one difference, not a shifted list.
    return (
        bool(rows)
        and all(isinstance(r, list) and r and isinstance(r[0], int) for r in rows)
        and all(len(r) >= 4 for r in rows)
    )


def _rows_by_key(rows: list) -> dict:
    return {f"#{r[0]}": r[1:] for r in rows}


def _short(value: Any, width: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."
