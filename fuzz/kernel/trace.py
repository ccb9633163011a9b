"""Kernel-lane traces: a JSONL header (kernel, settings, pages, seed) and one record per action.

    {"swapdiff_kernel_trace": 1, "kernel": "6.18.44", "settings": {...}, "pages": 128, ...}
    {"i": 0, "op": "pageout", "start": 3, "n": 5}

A trace replays on the kernel and on the model (`swapdiff kernel --replay`).  `check_actions`
validates a whole action list against the lane's rules (pages in range, children forked before
they exit, swapoff of a live lane device, the hibernation session rules below) so a malformed
trace is a one-line error, never a half-run replay.

Hibernation slots (``hib_alloc`` of `n` slots on a lane block device, ``hib_free``,
``hib_close``; docs/hibernation.md): the swap area may change only while no slot is held (the
kernel refuses SNAPSHOT_SET_SWAP_AREA with EPERM then), and the area's device is not swapped
off while /dev/snapshot is open (7.x pins it: EBUSY; 6.18 would loop in try_to_unuse over
slots nobody can unuse).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fuzz.trace import TraceError, atomic_write_text

TRACE_KEY = "swapdiff_kernel_trace"
MAX_LANE_DEVICES = 3
MAX_PRIORITY = 32767  # SWAP_FLAG_PRIO_MASK

EXTRA_DEVICE_PAGES = 1024  # devices a swapon action adds: 2 clusters of 512
MAX_BAD = 8

# action -> its arguments and their JSON types ("int", "bool", "ints": a list of integers,
# "discard": one of DISCARDS)
DISCARDS = ("none", "once")  # "pages" discards from a workqueue the lane cannot wait for
OPS: dict[str, dict[str, str]] = {
    "pageout": {"start": "int", "n": "int"},
    "zap": {"start": "int", "n": "int"},
    "read": {"page": "int"},
    "write": {"page": "int"},
    "store": {"page": "int"},
    "fork": {"child": "int"},
    "child_exit": {"child": "int"},
    "swapon": {"priority": "int", "blkdev": "bool", "bad": "ints", "discard": "discard"},
    "swapoff": {"type": "int"},
    "spageout": {"start": "int", "n": "int"},
    "szap": {"start": "int", "n": "int"},
    "spunch": {"start": "int", "n": "int"},
    "sread": {"page": "int"},
    "swrite": {"page": "int"},
    "lpageout": {"start": "int", "n": "int"},
    "lzap": {"start": "int", "n": "int"},
    "lread": {"page": "int"},
    "lwrite": {"page": "int"},
    "hib_alloc": {"type": "int", "n": "int"},
    "hib_free": {},
    "hib_close": {},
}
HIB_OPS = ("hib_alloc", "hib_free", "hib_close")
MAX_HIB_BATCH = 64


def _typed(value: Any, kind: str) -> bool:
    if kind == "ints":
        return isinstance(value, list) and all(type(v) is int for v in value)
    if kind == "discard":
        return value in DISCARDS
    return type(value) is {"int": int, "bool": bool}[kind]


def write_kernel_trace(path: Path, header: dict[str, Any], actions: list[dict[str, Any]]) -> None:
    lines = [json.dumps(header), *(json.dumps({"i": i, **a}) for i, a in enumerate(actions))]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_kernel_trace(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise TraceError(f"{path}: {err.strerror}") from None
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get(TRACE_KEY) != 1:
        raise TraceError(f'{path}:1: not a kernel-lane trace (header needs "{TRACE_KEY}": 1)')
    pages = header.get("pages")
    if not isinstance(pages, int) or not 1 <= pages <= 1024:
        raise TraceError(f"{path}:1: header pages must be an integer in 1..1024")
    actions = []
    for k, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise TraceError(f"{path}:{k}: not JSON") from None
        if not isinstance(rec, dict) or rec.get("i") != k - 2 or rec.get("op") not in OPS:
            raise TraceError(f"{path}:{k}: bad kernel-lane op record")
        rec.pop("observed", None)  # a recorded trace's kernel observations (fuzz/kernel/recorded.py)
        keys = set(rec) - {"i", "op"}
        args = OPS[rec["op"]]
        if keys != set(args) or not all(_typed(rec[x], args[x]) for x in keys):
            wanted = ", ".join(f"{name} ({kind})" for name, kind in args.items())
            needs = f"needs {wanted}" if args else "takes no arguments"
            raise TraceError(f"{path}:{k}: {rec['op']} {needs}")
        rec.pop("i")
        actions.append(rec)
    shm_pages = header.get("shm_pages", 0)
    if not isinstance(shm_pages, int) or not 0 <= shm_pages <= 1024:
        raise TraceError(f"{path}:1: header shm_pages must be an integer in 0..1024")
    large = _large_region(path, header.get("mthp"))
    settings = header.get("settings")
    kind = settings.get("kind") if isinstance(settings, dict) else None
    first_blkdev = kind == "blkdev" if kind is not None else large[0] > 0
    problem = check_actions(actions, pages, shm_pages, large, first_blkdev)
    if problem is not None:
        index, why = problem
        raise TraceError(f"{path}:{index + 2}: {why}")
    return header, actions


def _large_region(path: str, mthp: Any) -> tuple[int, int]:
    """(pages, folio pages) of the header's large region ({"size_kb", "order", "folios"})."""
    if mthp is None:
        return (0, 1)
    fields = ("size_kb", "order", "folios")
    if (
        not isinstance(mthp, dict)
        or not all(type(mthp.get(k)) is int for k in fields)
        or not 1 <= mthp["order"] < 9
        or mthp["size_kb"] != 4 << mthp["order"]
        or not 1 <= mthp["folios"] <= 64
    ):
        raise TraceError(f"{path}:1: header mthp must be null or {{size_kb, order 1..8, folios 1..64}}")
    nr = 1 << mthp["order"]
    return (mthp["folios"] * nr, nr)


def _range_ok(a: dict[str, Any], npages: int) -> bool:
    return a["start"] >= 0 and a["n"] >= 1 and a["start"] + a["n"] <= npages


class _Session:
    """The /dev/snapshot session as check_actions follows it."""

    def __init__(self) -> None:
        self.open = False
        self.area: int | None = None
        self.held = False  # a hib_alloc since the last free (its slots may be held)

    def check(self, a: dict[str, Any], blkdevs: set[int]) -> str | None:
        op = a["op"]
        if op == "hib_alloc":
            if a["type"] not in blkdevs or not 1 <= a["n"] <= MAX_HIB_BATCH:
                return f"hib_alloc needs a live lane block device and 1..{MAX_HIB_BATCH} slots"
            if self.held and a["type"] != self.area:
                return f"hib_alloc on type {a['type']} while slots are held on type {self.area}"
            self.open, self.area, self.held = True, a["type"], True
        elif not self.open:
            return f"{op} while /dev/snapshot is not open"
        else:
            self.held = False
            if op == "hib_close":
                self.open, self.area = False, None
        return None


def check_actions(
    actions: list[dict[str, Any]],
    npages: int,
    shm_pages: int = 0,
    large: tuple[int, int] = (0, 1),
    first_blkdev: bool = False,
) -> tuple[int, str] | None:
    """(index, reason) of the first action the lane cannot run, or None.  `large` is the large
    region's (pages, folio pages): its pageouts and zaps cover whole aligned folio blocks.
    `first_blkdev`: the lane's first device is a block device (hibernation slots need one)."""
    large_pages, nr = large
    children: set[int] = set()
    types = {0}  # the lane's first device; later ones take the first free type, as swapon does
    blkdevs = {0} if first_blkdev else set()
    session = _Session()
    for i, a in enumerate(actions):
        op = a["op"]
        if op in HIB_OPS:
            why = session.check(a, blkdevs)
            if why is not None:
                return i, why
        if op in ("pageout", "zap") and not _range_ok(a, npages):
            return i, f"{op} range [{a['start']}, {a['start'] + a['n']}) is not within {npages} pages"
        if op in ("read", "write", "store") and not 0 <= a["page"] < npages:
            return i, f"{op} page {a['page']} is not within {npages} pages"
        if op in ("spageout", "szap", "spunch") and not _range_ok(a, shm_pages):
            return (
                i,
                f"{op} range [{a['start']}, {a['start'] + a['n']}) is not within {shm_pages} shmem pages",
            )
        if op in ("lpageout", "lzap") and (not _range_ok(a, large_pages) or a["start"] % nr or a["n"] % nr):
            return (
                i,
                f"{op} range [{a['start']}, {a['start'] + a['n']}) is not whole {nr}-page blocks "
                f"within {large_pages} large-region pages",
            )
        if op in ("lread", "lwrite") and not 0 <= a["page"] < large_pages:
            return i, f"{op} page {a['page']} is not within {large_pages} large-region pages"
        if op in ("sread", "swrite") and not 0 <= a["page"] < shm_pages:
            return i, f"{op} page {a['page']} is not within {shm_pages} shmem pages"
        if op == "fork":
            if a["child"] in children or a["child"] < 1:
                return i, f"fork of child {a['child']}, which is alive or not a positive id"
            children.add(a["child"])
        if op == "child_exit":
            if a["child"] not in children:
                return i, f"child_exit of child {a['child']}, which is not alive"
            children.discard(a["child"])
        if op == "swapon":
            if not 0 <= a["priority"] <= MAX_PRIORITY or len(types) >= MAX_LANE_DEVICES:
                return i, f"swapon needs priority 0..{MAX_PRIORITY} and at most {MAX_LANE_DEVICES} devices"
            bad = a["bad"]
            if (
                len(bad) > MAX_BAD
                or len(set(bad)) != len(bad)
                or not all(0 < b < EXTRA_DEVICE_PAGES for b in bad)
            ):
                return (
                    i,
                    f"swapon bad pages: at most {MAX_BAD} distinct offsets in 1..{EXTRA_DEVICE_PAGES - 1}",
                )
            if a["discard"] != "none" and not a["blkdev"]:
                return i, "swapon: the lane discards only its block devices"
            if a["blkdev"] or not bad:  # a swap file listing bad pages is refused (EINVAL) on both sides
                new = min(t for t in range(MAX_LANE_DEVICES) if t not in types)
                types.add(new)
                if a["blkdev"]:
                    blkdevs.add(new)
        if op == "swapoff":
            if a["type"] not in types:
                return i, f"swapoff of type {a['type']}, which is not a live lane device"
            if session.open and a["type"] == session.area:
                return i, f"swapoff of type {a['type']}, the swap area of the open /dev/snapshot"
            types.discard(a["type"])
            blkdevs.discard(a["type"])
    return None
