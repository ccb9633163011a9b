"""Reading the optimized model's packed state back as `reference.api` data.

Snapshots, device records and invariant-failure messages are built here with numpy from the
state arrays (`optimized.kernels` documents their layout); nothing here changes state.
"""

from __future__ import annotations

# ruff: noqa: RUF059  (the state tuple is unpacked whole for readability)
from typing import Any

import numpy as np

from optimized import kernels as k
from reference import api
from reference.api import (
    CLUSTER_FLAG_NAMES,
    DISCARD_KINDS,
    SLOT_BAD,
    SLOT_CACHED,
    SLOT_SWAPPED,
    Entry,
    SwapDevice,
)

_STATE_NAMES = {k.TAG_CACHED: SLOT_CACHED, k.TAG_SWAPPED: SLOT_SWAPPED, k.TAG_BAD: SLOT_BAD}


def live_types(G: np.ndarray) -> list[int]:
    return [t for t in range(int(G[k.G_MAXSW])) if G[k.G_DEV + t * k.DS + k.D_STATE] != 0]


def device_record(G: np.ndarray, t: int) -> SwapDevice:
    d = k.G_DEV + t * k.DS
    return SwapDevice(
        type=t,
        max=int(G[d + k.D_MAX]),
        pages=int(G[d + k.D_PAGES]),
        inuse=int(G[d + k.D_INUSE]),
        priority=int(G[d + k.D_PRIO]),
        writeok=bool(G[d + k.D_WRITEOK]),
        on_avail=bool(G[d + k.D_ONAVAIL]),
        swapping_off=int(G[d + k.D_STATE]) == 2,
        solidstate=bool(G[d + k.D_SOLID]),
        blkdev=bool(G[d + k.D_BLK]),
        discard=DISCARD_KINDS[int(G[d + k.D_DISCARD])],
    )


def entry_of(result: int) -> Entry | None:
    result = int(result)
    return None if result == 0 else Entry(result >> 32, result & 0xFFFFFFFF)


def snapshot_data(S: tuple, level: str) -> dict[str, Any]:
    """The `reference.api.Snapshot` data of a state."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    types = live_types(G)
    data: dict[str, Any] = {
        "level": level,
        "nr_swap_pages": int(G[k.G_NR]),
        "total_swap_pages": int(G[k.G_TOTAL]),
        "pm_suspended_storage": bool(G[k.G_PM]),
        "devices": {str(t): _device_data(S, t, level) for t in types},
        "slots": {str(t): _slot_rows(S, t) for t in types},
        "folios": _folio_rows(FO),
    }
    if level == "allocator":
        data["percpu"] = [
            None if G[k.G_PCPU + 2 * o] < 0 else [int(G[k.G_PCPU + 2 * o]), int(G[k.G_PCPU + 2 * o + 1])]
            for o in range(int(G[k.G_PMD]) + 1)
        ]
        data["avail"] = _walk_types(G, k.G_AVHEAD, k.D_AVNEXT)
    return data


def _walk_types(G: np.ndarray, head: int, nxt: int) -> list[int]:
    out = []
    t = int(G[head])
    while t >= 0 and len(out) <= G[k.G_MAXSW]:
        out.append(t)
        t = int(G[k.G_DEV + t * k.DS + nxt])
    return out


def _device_data(S: tuple, t: int, level: str) -> dict[str, Any]:
    G, CL = S[0], S[3]
    record = device_record(G, t)
    data = api.device_snapshot(record)
    if level != "allocator":
        return data
    d = k.G_DEV + t * k.DS
    cb = int(G[d + k.D_CBASE])
    ncl = int(G[d + k.D_NCL])
    nord = int(G[k.G_PMD]) + 1
    rows = CL[cb : cb + ncl]
    data["clusters"] = [
        [int(count), CLUSTER_FLAG_NAMES[int(flag)], int(order)]
        for count, flag, order in zip(rows[:, k.C_COUNT], rows[:, k.C_FLAG], rows[:, k.C_ORDER])
    ]

    def walk(lid: int) -> list[int]:
        out = []
        c = int(G[d + k.D_LHEAD + lid])
        while c >= 0 and len(out) <= ncl:
            out.append(c - cb)
            c = int(CL[c, k.C_NEXT])
        return out

    data["lists"] = {
        "free": walk(k.L_FREE),
        "nonfull": [walk(k.L_NONFULL + o) for o in range(nord)],
        "frag": [walk(k.L_FRAG + o) for o in range(nord)],
        "full": walk(k.L_FULL),
        "discard": walk(k.L_DISCARD),
    }
    data["hint"] = [int(x) for x in G[d + k.D_HINT : d + k.D_HINT + nord]]
    return data


def _slot_rows(S: tuple, t: int) -> list[list[Any]]:
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = int(G[k.G_CS])
    d = k.G_DEV + t * k.DS
    cb = int(G[d + k.D_CBASE])
    seg = SL[cb * cs : (cb + int(G[d + k.D_NCL])) * cs]
    offs = np.flatnonzero(seg)
    words = seg[offs]
    rows = []
    for off, w in zip(offs.tolist(), words.tolist()):
        tag = w & k.TAG_MASK
        if tag == k.TAG_BAD:
            rows.append([off, SLOT_BAD, 0, 0, 0])
            continue
        count = int((w >> k.COUNT_SHIFT) & 15)
        if count == k.COUNT_MAX:
            count = int(EXT[CL[cb + off // cs, k.C_EXT], off % cs])
        payload = int(w >> k.PAYLOAD_SHIFT)
        if tag == k.TAG_CACHED:
            rows.append([off, SLOT_CACHED, count, int(FO[payload, k.F_ID]), 0])
        else:
            shadow = int(BIG[payload - k.SHADOW_BIG]) if payload >= k.SHADOW_BIG else payload
            rows.append([off, SLOT_SWAPPED, count, 0, shadow])
    return rows


def _folio_rows(FO: np.ndarray) -> list[list[Any]]:
    live = np.flatnonzero(FO[:, k.F_ID] > 0)
    live = live[np.argsort(FO[live, k.F_ID], kind="stable")]
    out = []
    for fid, order, flags, t, off in FO[live, : k.F_OFF + 1].tolist():
        out.append(
            [
                fid,
                order,
                None if t < 0 else [t, off],
                bool(flags & k.FL_LOCKED),
                bool(flags & k.FL_WRITEBACK),
                bool(flags & k.FL_MAPPED),
            ]
        )
    return out


_MESSAGES = {
    k.INV_CLUSTER_COUNT: "type {a} cluster {b}: count {c} != number of non-FREE slots",
    k.INV_BITMAP: "type {a} cluster {b}: free bitmap disagrees with the word of slot {c}",
    k.INV_SLOT_WORD: "type {a} slot {b}: impossible slot word {c:#x}",
    k.INV_SLOT_FOLIO: "type {a} slot {b}: cached by folio row {c}, which does not own it",
    k.INV_OVERFLOW_SLOT: "type {a} slot {b}: overflow storage disagrees with inline count {c}",
    k.INV_OVERFLOW_ROW: "type {a} cluster {b}: overflow row does not match its {c} overflowed slots",
    k.INV_CLUSTER_FLAG: "type {a} cluster {b}: flag {c} does not fit its count/order",
    k.INV_LIST_LINKS: "type {a} list {b}: broken links at cluster {c}",
    k.INV_LIST_MEMBER: "type {a} cluster {b}: not exactly once on the list of its flag (list {c})",
    k.INV_INUSE: "type {a}: inuse {b} != {c} used slots",
    k.INV_INUSE_PAGES: "type {a}: inuse {b} > pages {c}",
    k.INV_ON_AVAIL: "type {a}: on_avail flag disagrees with the avail list",
    k.INV_OFF_AVAIL: "type {a}: writable, not full, but off the avail list",
    k.INV_HINT: "type {a}: hint {c} for order {b} misaligned",
    k.INV_FOLIO_RANGE: "folio {a}: slots of type {b} from {c} do not hold it as an aligned range",
    k.INV_TOTAL: "total_swap_pages {a} != {b}",
    k.INV_NR: "nr_swap_pages {a} != {b}",
    k.INV_ACTIVE: "type {a}: active list disagrees with the device state",
    k.INV_PERCPU: "percpu hint for order {a} ([{b}, {c}]) is misaligned or names a bad type",
    k.INV_FOLIO_TABLE: "folio table: {a} / {b} / {c} (hash or live count broken)",
}


def invariant_message(res: np.ndarray) -> str:
    code, a, b, c = (int(x) for x in res)
    return _MESSAGES[code].format(a=a, b=b, c=c)
