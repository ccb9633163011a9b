"""Allocation and amortized growth of the optimized model's state arrays.

The kernels (`optimized.kernels`) never allocate: when an op needs more pool clusters, folio
rows, overflow rows or big-shadow cells it stops with a NEED_* status and `grow` builds bigger
arrays here (doubling, so a long campaign copies each byte O(1) times on average).
"""

from __future__ import annotations

import numpy as np

from optimized import kernels as k
from optimized.firstcall import lock_first_calls

_REHASH = lock_first_calls({"rehash": k.rehash})  # its first call compiles: `optimized.firstcall`

State = tuple  # (G, SL, BM, CL, EXT, FO, FH, BIG), see optimized.kernels

# Initial sizes of the side tables (folio rows, overflow rows, big-shadow cells); public so the
# harness draws values around the first growth of each (fuzz.boundaries).
FOLIO_ROWS = 16
EXT_ROWS = 2
BIG_CELLS = 4


def new_state(cluster_size: int, max_swapfiles: int) -> State:
    """Empty state: no device, no folio."""
    G = np.zeros(k.g_size(max_swapfiles), dtype=np.int64)
    G[k.G_CS] = cluster_size
    G[k.G_SHIFT] = cluster_size.bit_length() - 1
    G[k.G_PMD] = cluster_size.bit_length() - 1
    G[k.G_MAXSW] = max_swapfiles
    G[k.G_WPC] = max(1, cluster_size // k.WORD_BITS)
    for field in (k.G_AVHEAD, k.G_AVTAIL, k.G_ACHEAD, k.G_ACTAIL):
        G[field] = -1
    for order in range(k.NORD_MAX):
        G[k.G_PCPU + 2 * order] = -1
    SL = np.zeros(0, dtype=np.int64)
    BM = np.zeros(0, dtype=np.int64)
    CL = np.zeros((0, k.CL_COLS), dtype=np.int64)
    FO, FH = _folio_table(G, np.zeros((0, k.FO_COLS), dtype=np.int64), FOLIO_ROWS)
    EXT = _ext_rows(G, np.zeros((0, cluster_size + 1), dtype=np.int64), EXT_ROWS)
    BIG = np.zeros(BIG_CELLS, dtype=np.int64)
    G[k.G_BIGCAP] = BIG_CELLS
    return (G, SL, BM, CL, EXT, FO, FH, BIG)


def grow(S: State, need: int) -> State:
    """Bigger arrays for a NEED_* status; the returned state holds the same contents."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    if need == k.NEED_POOL:
        SL, BM, CL = _pool(G, SL, BM, CL, int(G[k.G_POOLUSED] + G[k.G_NEED]))
    elif need == k.NEED_FOLIO:
        rows = FO.shape[0] * 2 if G[k.G_FFREE] < 0 else FO.shape[0]
        FO, FH = _folio_table(G, FO, rows)
    elif need == k.NEED_EXT:
        EXT = _ext_rows(G, EXT, max(EXT_ROWS, 2 * EXT.shape[0]))
    elif need == k.NEED_BIG:
        BIG = _big_cells(G, SL, BIG)
    else:
        raise RuntimeError(f"unknown growth request {need}")
    return (G, SL, BM, CL, EXT, FO, FH, BIG)


def _pool(G: np.ndarray, SL: np.ndarray, BM: np.ndarray, CL: np.ndarray, needed: int):
    cap = max(needed, 2 * int(G[k.G_POOLCAP]))
    cs = int(G[k.G_CS])
    wpc = int(G[k.G_WPC])
    used = int(G[k.G_POOLUSED])
    new_sl = np.zeros(cap * cs, dtype=np.int64)
    new_sl[: used * cs] = SL[: used * cs]
    new_bm = np.zeros(cap * wpc, dtype=np.int64)
    new_bm[: used * wpc] = BM[: used * wpc]
    new_cl = np.zeros((cap, k.CL_COLS), dtype=np.int64)
    new_cl[:used] = CL[:used]
    G[k.G_POOLCAP] = cap
    return new_sl, new_bm, new_cl


def _folio_table(G: np.ndarray, FO: np.ndarray, rows: int):
    """Rows for at least `rows` folios and a fresh hash of twice that size (no tombstones)."""
    old = FO.shape[0]
    if rows > old:
        new_fo = np.zeros((rows, k.FO_COLS), dtype=np.int64)
        new_fo[:old] = FO
        # New rows join the free list in front of the old free rows.
        new_fo[old:, k.F_NEXT] = np.arange(old + 1, rows + 1)
        new_fo[rows - 1, k.F_NEXT] = G[k.G_FFREE] if old else -1
        G[k.G_FFREE] = old
        G[k.G_FROWS] = rows
        FO = new_fo
    hcap = 1 << max(4, (2 * FO.shape[0] - 1).bit_length())
    FH = np.zeros(hcap, dtype=np.int64)
    G[k.G_HCAP] = hcap
    _REHASH["rehash"](G, FO, FH)
    return FO, FH


def _ext_rows(G: np.ndarray, EXT: np.ndarray, rows: int) -> np.ndarray:
    cs = int(G[k.G_CS])
    old = EXT.shape[0]
    new = np.zeros((rows, cs + 1), dtype=np.int64)
    new[:old] = EXT
    new[old:, cs] = np.arange(old + 1, rows + 1)
    new[rows - 1, cs] = G[k.G_EXTFREE] if old else -1
    G[k.G_EXTFREE] = old
    G[k.G_EXTROWS] = rows
    return new


def _big_cells(G: np.ndarray, SL: np.ndarray, BIG: np.ndarray) -> np.ndarray:
    """Keep only the big shadows some SWAPPED slot still holds, then make room."""
    used_slots = int(G[k.G_POOLUSED] * G[k.G_CS])
    words = SL[:used_slots]
    payload = words >> k.PAYLOAD_SHIFT
    holders = np.flatnonzero(((words & k.TAG_MASK) == k.TAG_SWAPPED) & (payload >= k.SHADOW_BIG))
    cells = payload[holders] - k.SHADOW_BIG
    live, renumbered = np.unique(cells, return_inverse=True)
    cap = max(BIG.shape[0], 2 * len(live), 4)
    new = np.zeros(cap, dtype=np.int64)
    new[: len(live)] = BIG[live]
    SL[holders] = (words[holders] & ((1 << k.PAYLOAD_SHIFT) - 1)) | (
        (renumbered.astype(np.int64) + k.SHADOW_BIG) << k.PAYLOAD_SHIFT
    )
    G[k.G_BIGN] = len(live)
    G[k.G_BIGCAP] = cap
    return new
