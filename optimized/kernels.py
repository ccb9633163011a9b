"""The Numba kernels of the optimized model: every state change of `OptimizedSwap` happens here.

All state lives in one tuple of numpy arrays, `S = (G, SL, BM, CL, EXT, FO, FH, BIG)`:

- `G` (int64): globals, the per-CPU hint, and one fixed-size record per swap type
  (`swap_info_struct`: counters, flags, the avail/active list links, the per-device cluster
  list heads and tails, the HDD `global_cluster->next[]` hint).
- `SL` (int64): one packed word per slot, like the phase III swap table entry: bits 0-1 the
  state tag (FREE/CACHED/SWAPPED/BAD), bits 2-5 the inline swap count (15 means "overflowed,
  the real count is in the cluster's overflow row"), bits 6-62 the payload: the folio row of a
  CACHED slot or the shadow of a SWAPPED slot (a shadow >= 2**56 is an index into `BIG`).
  Stored as int64, not uint64, so numba never mixes signed and unsigned (which gives floats).
- `BM` (int64): per-cluster free bitmaps (bit set = FREE), 32 bits per word so plain Python
  (NUMBA_DISABLE_JIT) never overflows; used to find aligned free ranges a word at a time.
- `CL` (int64, [clusters, 6]): `swap_cluster_info`: count, flag, order, the intrusive list
  links (next/prev cluster index) and the overflow row (the phase III `extend_table`).
- `EXT` (int64, [rows, cluster_size + 1]): overflow rows; column `cluster_size` holds how
  many slots of the cluster are at 15 or more (the row is released when that reaches 0), or
  the next free row while the row is on the free list.
- `FO` (int64, [rows, 6]) and `FH` (int64): the folio table (id, order, flags, folio->swap)
  and an open-addressing hash from folio id to row, so memory follows the live folios.
- `BIG` (int64): shadows too large for the slot payload.

Every cluster and slot of every device lives in one pool: a device owns a segment of whole
clusters (`D_CBASE`), so a device slot `off` is pool slot `D_CBASE * cluster_size + off`.
Kernels never allocate memory: when an op needs more pool, folio rows, overflow rows or
shadow space they return a NEED_* status before changing anything, the Python facade grows
the arrays (amortized doubling) and runs the op again.

The state-changing kernels are compiled with `_nrt=False` (numba's private switch for the
reference-counting runtime): they never allocate, and without it every nested call increfs
and decrefs all eight arrays, which halved batch speed.  Only the invariant checks allocate.

A call that does not get inlined passes the state tuple as ~60 flattened array fields, about
20 ns.  So `exec_op` and the small helpers on the hot paths (slot free/put/dup, cache add and
delete, the hinted scan) are marked `inline="always"` (numba IR inlining); the big rare paths
stay calls.  `exec_op` dispatches on the named op codes of `reference.api.OP_SPECS` to one
kernel per API call, `op_<call>` (`op_swap_put_entries_direct`, ...), which decodes its
record and runs the contract checks; the op kernels are calls, not inlined.  Measured (one
process, empty NUMBA_CACHE_DIR, the `fuzz.cli.bench.implementations` startup script; batch ns/op of the bench
traces usemem / churn / hibernation, best of 7, on the shared 2-core host):

    exec_op one 233-line function inlined into run_ops (before)   45.6 s   35 / 41 / 62 ns
    op_* kernels inlined into exec_op                               46.7 s   35 / 65 / 55 ns
    op_* kernels called (this file)                                 41.5 s   31 / 47 / 47 ns
    op_* and the hot helpers called                                 52.8 s   65 / 93 / 106 ns

Inlining is not what dominates the cold compile: each of the ~110 jitted functions pays
numba's per-function pipeline (0.05 s for a one-line accessor, up to ~2 s for a kernel with
inlined callees, whose callees' code is linked into it), NUMBA_OPT=0 saves only 5 s, and the
digest kernels (`run_ops_digest`, `state_digest` with numba's tuple hash) cost ~7 s.

Numba gives every jitted function a CPython wrapper (to be callable from Python) and a cfunc
wrapper (to be a first-class function value), each lowered, optimised and compiled to machine
code with the function.  Nothing here is a first-class value, and only the op kernels, the
batch loops, the digest, the invariant check and a few helpers the tests call are called from
Python, so the other helpers are compiled with `no_cpython_wrapper=True` and every function
with `no_cfunc_wrapper=True`: a cold fast-mode episode compiled with 10% less CPU (74 s
against 82 s in one loaded window, both trees at once), the machine code of the kernels is
unchanged.

This module holds every jitted function because numba's on-disk cache only checks the file a
function is defined in: kernels spread over several files could load a stale callee.
Function names follow mm/swapfile.c so the code reads beside the reference model.
"""

from __future__ import annotations

# Kernels unpack the whole state tuple for readability, and numba rejects `all(genexpr)` and
# tuple membership tests on arrays' values, hence these file-wide exemptions.
# ruff: noqa: RUF059, SIM109, SIM110
import numpy as np
from numba import njit

from reference.api import (
    CLUSTER_FLAG_DISCARD,
    CLUSTER_FLAG_FRAG,
    CLUSTER_FLAG_FREE,
    CLUSTER_FLAG_FULL,
    CLUSTER_FLAG_NONE,
    CLUSTER_FLAG_NONFULL,
    CONTRACT_CODE_INDEX,
    CONTRACT_ERROR_BASE,
    DIGEST_MASK,
    EBUSY,
    EINVAL,
    ENOMEM,
    ENTRY_SHIFT,
    EPERM,
    LINK_END,
    LINK_HEAD,
    LIST_DISCARD,
    LIST_FRAG,
    LIST_FREE,
    LIST_FULL,
    LIST_NONFULL,
    MAX_SWAP_BADPAGES,
    MAX_SWAP_PRIO,
    OP_FOLIO_ALLOC_SWAP,
    OP_FOLIO_DROP,
    OP_FOLIO_DUP_SWAP,
    OP_FOLIO_ENTRY,
    OP_FOLIO_FREE_SWAP,
    OP_FOLIO_NEW,
    OP_FOLIO_PUT_SWAP,
    OP_FOLIO_SET,
    OP_NR_SWAP_PAGES,
    OP_SET_PM_SUSPENDED_STORAGE,
    OP_SPECS,
    OP_SWAP_ALLOC_HIBERNATION_SLOT,
    OP_SWAP_CACHE_ALLOC_FOLIO,
    OP_SWAP_CACHE_DEL_FOLIO,
    OP_SWAP_CACHE_FOLIO,
    OP_SWAP_COUNT,
    OP_SWAP_DISCARD_WORK,
    OP_SWAP_DUP_ENTRY_DIRECT,
    OP_SWAP_FREE_HIBERNATION_SLOT,
    OP_SWAP_PUT_ENTRIES_DIRECT,
    OP_SWAP_RECLAIM_WORK,
    OP_SWAP_SHADOW,
    OP_SWAPIN_FOLIO,
    OP_SWAPOFF_ABORT,
    OP_SWAPOFF_BEGIN,
    OP_SWAPOFF_END,
    OP_SWAPON,
    R_AVAIL,
    R_CLUSTER,
    R_DEVICE,
    R_FOLIO,
    R_GLOBAL,
    R_HINT,
    R_LINK,
    R_PERCPU,
    R_SLOT,
    SWAPON_BLKDEV,
    SWAPON_DISCARD_SHIFT,
    SWAPON_HAS_PRIORITY,
    SWAPON_SOLIDSTATE,
    VALUE_LIMIT,
)

# ---- contract error results (reference.api encoding) ----


def _err(code: str) -> int:
    return CONTRACT_ERROR_BASE - CONTRACT_CODE_INDEX[code]


E_INVALID_ARGUMENT = _err("invalid-argument")
E_INVALID_TYPE = _err("invalid-type")
E_OFFSET = _err("offset-out-of-range")
E_BAD_SLOT = _err("bad-slot")
E_NOT_SWAPPED = _err("not-swapped")
E_NOT_HIB = _err("not-hibernation-slot")
E_FOLIO_INVALID_ID = _err("folio-invalid-id")
E_FOLIO_EXISTS = _err("folio-exists")
E_FOLIO_UNKNOWN = _err("folio-unknown")
E_FOLIO_ORDER = _err("folio-invalid-order")
E_IN_CACHE = _err("folio-in-swapcache")
E_NOT_IN_CACHE = _err("folio-not-in-swapcache")
E_WRITEBACK = _err("folio-writeback")
E_PAGE = _err("page-out-of-range")
E_PUT_ZERO = _err("put-count-zero")
E_NOT_SWAPPING_OFF = _err("not-swapping-off")

# ---- statuses asking the facade to grow an array and run the op again ----
NEED_NONE = 0
NEED_POOL = 1  # clusters for a swapon (G[G_NEED] says how many)
NEED_FOLIO = 2  # a folio row / hash space
NEED_EXT = 3  # an overflow row
NEED_BIG = 4  # a big-shadow cell
NEED_BASE = -2000  # kernel results at or below NEED_BASE - 1 are statuses

# ---- slot word ----
TAG_FREE = 0
TAG_CACHED = 1
TAG_SWAPPED = 2
TAG_BAD = 3
TAG_MASK = 3
COUNT_SHIFT = 2
COUNT_BITS = 60  # mask of the 4-bit inline count in place
COUNT_MAX = 15  # SWP_TB_COUNT_MAX: inline 15 means "see the overflow row"
PAYLOAD_SHIFT = 6
SHADOW_BIG = 1 << 56  # payload flag: the shadow is BIG[payload - SHADOW_BIG]
WORD_BITS = 32
FULL_WORD = (1 << WORD_BITS) - 1

# ---- cluster table columns ----
C_COUNT = 0
C_FLAG = 1
C_ORDER = 2
C_NEXT = 3
C_PREV = 4
C_EXT = 5
CL_COLS = 6

# ---- folio table columns ----
F_ID = 0
F_ORDER = 1
F_FLAGS = 2
F_TYPE = 3  # -1 while not in the swap cache
F_OFF = 4
F_NEXT = 5  # next free row (free rows only)
FO_COLS = 6
FL_LOCKED = 1
FL_WRITEBACK = 2
FL_MAPPED = 4

# ---- reclaim policy (TTRS_*) ----
TTRS_ANYWAY = 1
TTRS_UNMAPPED = 2
TTRS_FULL = 4

# ---- G: globals ----
G_CS = 0
G_SHIFT = 1
G_PMD = 2
G_MAXSW = 3
G_WPC = 4  # bitmap words per cluster
G_NR = 5  # nr_swap_pages
G_TOTAL = 6  # total_swap_pages
G_PM = 7  # pm_suspended_storage()
G_AVHEAD = 8  # swap_avail_head
G_AVTAIL = 9
G_ACHEAD = 10  # swap_active_head
G_ACTAIL = 11
G_POOLUSED = 12  # clusters handed out to segments
G_POOLCAP = 13
G_NEED = 14
G_FLIVE = 15
G_FFREE = 16  # first free folio row
G_FROWS = 17
G_HCAP = 18
G_HUSED = 19  # occupied hash cells (= live folios: deletion leaves no tombstone)
G_EXTFREE = 20
G_EXTROWS = 21
G_BIGN = 22
G_BIGCAP = 23
G_PCPU = 32  # percpu_swap_cluster: si[o] at G_PCPU + 2o (-1 = none), offset[o] at + 2o + 1
NORD_MAX = 10
G_SCRATCH = 64  # a copy of the avail list for the slow path
G_DEV = 128

# ---- per-device record, at G_DEV + type * DS ----
D_STATE = 0  # 0 unused, 1 active, 2 being swapped off
D_WRITEOK = 1
D_SOLID = 2
D_BLK = 3
D_DISCARD = 4  # index into DISCARD_KINDS
D_MAX = 5
D_PAGES = 6
D_INUSE = 7
D_PRIO = 8
D_ONAVAIL = 9
D_AVNEXT = 10
D_AVPREV = 11
D_ACNEXT = 12
D_ACPREV = 13
D_CBASE = 14
D_NCL = 15
D_SEGBASE = 16
D_SEGCAP = 17
D_HINT = 20  # global_cluster->next[order]
L_FREE = 0
L_DISCARD = 1
L_FULL = 2
L_NONFULL = 3  # + order
L_FRAG = L_NONFULL + NORD_MAX  # + order
N_LISTS = L_FRAG + NORD_MAX
D_LHEAD = D_HINT + NORD_MAX
D_LTAIL = D_LHEAD + N_LISTS
DS = D_LTAIL + N_LISTS

DISCARD_PAGES = 2


# Numba compiles a separate copy of a callee for every distinct literal argument, so every
# constant a kernel passes on is a numpy scalar (typed int64, not Literal[int]).
def _freeze_constants(names: dict) -> None:
    for name, value in list(names.items()):
        if name.isupper() and type(value) is int:
            names[name] = np.int64(value)


_freeze_constants(globals())
ZERO = np.int64(0)
ONE = np.int64(1)
NO_FOLIO = np.int64(-1)  # the "folio" of a hibernation allocation
FIRST_ONLY = np.bool_(False)
SCAN_ALL = np.bool_(True)
FORCE = np.bool_(True)


def g_size(max_swapfiles: int) -> int:
    """Length of G for a number of swap types."""
    return G_DEV + DS * max_swapfiles


# ============================================================================================
# small accessors
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def dev(t):
    return G_DEV + t * DS


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def type_in_use(G, t):
    return 0 <= t < G[G_MAXSW] and G[dev(t) + D_STATE] != 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def vm_swap_full(G):
    # DESIGN decision 6
    return G[G_NR] * 2 < G[G_TOTAL]


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def slot_count(CL, EXT, cs, w, c, i):
    """Exact count of a slot word (resolving the overflow row)."""
    n = (w >> COUNT_SHIFT) & 15
    if n == COUNT_MAX:
        return EXT[CL[c, C_EXT], i]
    return n


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def shadow_of(BIG, w):
    p = w >> PAYLOAD_SHIFT
    if p >= SHADOW_BIG:
        return BIG[p - SHADOW_BIG]
    return p


# ============================================================================================
# free bitmaps (one bit per slot, set = FREE)
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def bm_set_range(BM, G, c, i, n, value):
    """Set (value=1) or clear the bits of slots [i, i + n) of cluster c."""
    w0 = c * G[G_WPC]
    while n > 0:
        wi = i >> 5
        b = i & 31
        k = min(n, WORD_BITS - b)
        mask = ((1 << k) - 1) << b
        if value:
            BM[w0 + wi] |= mask
        else:
            BM[w0 + wi] &= ~mask
        i += k
        n -= k


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def ctz32(x):
    n = 0
    if (x & 0xFFFF) == 0:
        n += 16
        x >>= 16
    if (x & 0xFF) == 0:
        n += 8
        x >>= 8
    if (x & 0xF) == 0:
        n += 4
        x >>= 4
    if (x & 3) == 0:
        n += 2
        x >>= 2
    if (x & 1) == 0:
        n += 1
    return n


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def bm_find_free(BM, w0, i, cs, nr):
    """First nr-aligned index >= i (i aligned) whose nr slots are all FREE, or -1."""
    if nr >= WORD_BITS:
        nw = nr >> 5
        while i + nr <= cs:
            ok = True
            for k in range(nw):
                if BM[w0 + (i >> 5) + k] != FULL_WORD:
                    ok = False
                    break
            if ok:
                return i
            i += nr
        return -1
    align = FULL_WORD // ((1 << nr) - 1)  # bits 0, nr, 2nr, ... (nr is a power of 2 below 32)
    while i < cs:
        wi = i >> 5
        m = BM[w0 + wi] >> (i & 31)
        k = 1
        while k < nr:  # bit j survives iff bits j .. j+nr-1 are all set
            m &= m >> k
            k <<= 1
        m &= align
        if m != 0:
            return i + ctz32(m)
        i = (wi + 1) << 5
    return -1


# ============================================================================================
# device priority lists (swap_avail_head / swap_active_head): priority descending, FIFO
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def plist_add(G, t, head, tail, nxt, prv):
    prio = G[dev(t) + D_PRIO]
    u = G[head]
    while u >= 0 and G[dev(u) + D_PRIO] >= prio:
        u = G[dev(u) + nxt]
    if u < 0:
        p = G[tail]
    else:
        p = G[dev(u) + prv]
    G[dev(t) + prv] = p
    G[dev(t) + nxt] = u
    if p >= 0:
        G[dev(p) + nxt] = t
    else:
        G[head] = t
    if u >= 0:
        G[dev(u) + prv] = t
    else:
        G[tail] = t


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def plist_del(G, t, head, tail, nxt, prv):
    n = G[dev(t) + nxt]
    p = G[dev(t) + prv]
    if p >= 0:
        G[dev(p) + nxt] = n
    else:
        G[head] = n
    if n >= 0:
        G[dev(n) + prv] = p
    else:
        G[tail] = p
    G[dev(t) + nxt] = -1
    G[dev(t) + prv] = -1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def add_to_avail_list(G, t):
    if G[dev(t) + D_ONAVAIL] == 0:
        plist_add(G, t, G_AVHEAD, G_AVTAIL, D_AVNEXT, D_AVPREV)
        G[dev(t) + D_ONAVAIL] = 1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def del_from_avail_list(G, t):
    if G[dev(t) + D_ONAVAIL] != 0:
        plist_del(G, t, G_AVHEAD, G_AVTAIL, D_AVNEXT, D_AVPREV)
        G[dev(t) + D_ONAVAIL] = 0


# ============================================================================================
# 2.0.1 / 2.0.2 usage accounting
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_range_alloc(G, t, nr):
    d = dev(t)
    G[d + D_INUSE] += nr
    if G[d + D_INUSE] == G[d + D_PAGES]:
        del_from_avail_list(G, t)
    G[G_NR] -= nr


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_range_free(G, t, nr):
    d = dev(t)
    G[G_NR] += nr
    G[d + D_INUSE] -= nr
    if G[d + D_ONAVAIL] == 0 and G[d + D_WRITEOK] != 0 and G[d + D_INUSE] < G[d + D_PAGES]:
        add_to_avail_list(G, t)


# ============================================================================================
# 2.0.4 cluster lists: intrusive doubly linked lists through CL[:, C_NEXT/C_PREV], one
# head/tail pair per list in the device record (si->free_clusters, nonfull_clusters[o], ...)
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def list_of(CL, c):
    f = CL[c, C_FLAG]
    if f == CLUSTER_FLAG_FREE:
        return L_FREE
    if f == CLUSTER_FLAG_NONFULL:
        return L_NONFULL + CL[c, C_ORDER]
    if f == CLUSTER_FLAG_FRAG:
        return L_FRAG + CL[c, C_ORDER]
    if f == CLUSTER_FLAG_FULL:
        return L_FULL
    if f == CLUSTER_FLAG_DISCARD:
        return L_DISCARD
    return -1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def list_unlink(G, CL, d, c, lid):
    n = CL[c, C_NEXT]
    p = CL[c, C_PREV]
    if p >= 0:
        CL[p, C_NEXT] = n
    else:
        G[d + D_LHEAD + lid] = n
    if n >= 0:
        CL[n, C_PREV] = p
    else:
        G[d + D_LTAIL + lid] = p
    CL[c, C_NEXT] = -1
    CL[c, C_PREV] = -1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def list_append(G, CL, d, c, lid):
    last = G[d + D_LTAIL + lid]
    CL[c, C_PREV] = last
    CL[c, C_NEXT] = -1
    if last >= 0:
        CL[last, C_NEXT] = c
    else:
        G[d + D_LHEAD + lid] = c
    G[d + D_LTAIL + lid] = c


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def move_cluster(G, CL, d, c, flag):
    lid = list_of(CL, c)
    if lid >= 0:
        list_unlink(G, CL, d, c, lid)
    CL[c, C_FLAG] = flag
    lid = list_of(CL, c)
    if lid >= 0:
        list_append(G, CL, d, c, lid)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def isolate_lock_cluster(G, CL, d, lid):
    """Take the first cluster of a list for allocation (flag NONE), or -1."""
    c = G[d + D_LHEAD + lid]
    if c >= 0:
        list_unlink(G, CL, d, c, lid)
        CL[c, C_FLAG] = CLUSTER_FLAG_NONE
    return c


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def free_cluster_now(G, CL, d, c):
    """__free_cluster: back to the free list, order reset."""
    move_cluster(G, CL, d, c, CLUSTER_FLAG_FREE)
    CL[c, C_ORDER] = 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def free_cluster(G, CL, d, c):
    if G[d + D_WRITEOK] != 0 and G[d + D_DISCARD] == DISCARD_PAGES:
        move_cluster(G, CL, d, c, CLUSTER_FLAG_DISCARD)
    else:
        free_cluster_now(G, CL, d, c)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def partial_free_cluster(G, CL, d, c):
    if CL[c, C_FLAG] != CLUSTER_FLAG_NONFULL:
        move_cluster(G, CL, d, c, CLUSTER_FLAG_NONFULL)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def relocate_cluster(G, CL, d, c):
    flag = CL[c, C_FLAG]
    if flag == CLUSTER_FLAG_DISCARD:
        return
    count = CL[c, C_COUNT]
    if count == 0:
        if flag != CLUSTER_FLAG_FREE:
            free_cluster(G, CL, d, c)
    elif count < G[G_CS]:
        if flag != CLUSTER_FLAG_FRAG:
            move_cluster(G, CL, d, c, CLUSTER_FLAG_FRAG)
    elif flag != CLUSTER_FLAG_FULL:
        move_cluster(G, CL, d, c, CLUSTER_FLAG_FULL)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def cluster_is_usable(CL, c, order):
    # A FREE cluster has no swap table until it is isolated (MODEL.md), so it is not usable.
    f = CL[c, C_FLAG]
    if f != CLUSTER_FLAG_NONE and f != CLUSTER_FLAG_NONFULL and f != CLUSTER_FLAG_FRAG:
        return False
    return order == 0 or CL[c, C_COUNT] == 0 or CL[c, C_ORDER] == order


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_do_scheduled_discard(G, CL, t):
    """discard_work: every cluster of the discard list becomes FREE, in order."""
    d = dev(t)
    discarded = G[d + D_LHEAD + L_DISCARD] >= 0
    while G[d + D_LHEAD + L_DISCARD] >= 0:
        free_cluster_now(G, CL, d, G[d + D_LHEAD + L_DISCARD])
    return discarded


# ============================================================================================
# counts and the overflow rows (phase III extend_table, DESIGN decision 3)
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def ext_alloc(G, CL, EXT, c):
    cs = G[G_CS]
    row = G[G_EXTFREE]
    G[G_EXTFREE] = EXT[row, cs]
    EXT[row, :] = 0
    CL[c, C_EXT] = row


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def set_count(G, SL, CL, EXT, s, c, i, new):
    """Store an exact count in slot s (index i of cluster c); the overflow row must exist
    when new >= 15 and is released when its last overflowed slot drops below 15."""
    cs = G[G_CS]
    w = SL[s]
    old = (w >> COUNT_SHIFT) & 15
    if new >= COUNT_MAX:
        row = CL[c, C_EXT]
        if old != COUNT_MAX:
            EXT[row, cs] += 1
        EXT[row, i] = new
        inline = COUNT_MAX
    else:
        inline = new
        if old == COUNT_MAX:
            row = CL[c, C_EXT]
            EXT[row, i] = 0
            EXT[row, cs] -= 1
            if EXT[row, cs] == 0:
                EXT[row, cs] = G[G_EXTFREE]
                G[G_EXTFREE] = row
                CL[c, C_EXT] = -1
    SL[s] = (w & ~COUNT_BITS) | (inline << COUNT_SHIFT)


# ============================================================================================
# folio table: rows in FO, linear probing in FH (0 empty, row + 1; no tombstones)
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def fhash(fid, mask):
    return (fid ^ (fid >> 21) ^ (fid >> 42)) & mask


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def folio_lookup(G, FO, FH, fid):
    if fid <= 0 or fid >= VALUE_LIMIT:
        return -1
    mask = G[G_HCAP] - 1
    h = fhash(fid, mask)
    while True:
        v = FH[h]
        if v == 0:
            return -1
        if v > 0 and FO[v - 1, F_ID] == fid:
            return v - 1
        h = (h + 1) & mask


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def folio_room(G):
    return G[G_FFREE] >= 0 and (G[G_HUSED] + 1) * 4 <= G[G_HCAP] * 3


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def hash_insert(G, FH, fid, row):
    mask = G[G_HCAP] - 1
    h = fhash(fid, mask)
    while FH[h] != 0:
        h = (h + 1) & mask
    G[G_HUSED] += 1
    FH[h] = row + 1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def hash_unlink(G, FO, FH, h, mask):
    """Empty cell h by backward-shift deletion: later cells of its probe run move back into
    the hole unless their home lies cyclically in (hole, cell], so no tombstone is left and a
    miss stops at the first empty cell however many inserts and removes came before."""
    hole = h
    j = h
    while True:
        j = (j + 1) & mask
        v = FH[j]
        if v == 0:
            break
        home = fhash(FO[v - 1, F_ID], mask)
        if (j - home) & mask >= (j - hole) & mask:
            FH[hole] = v
            hole = j
    FH[hole] = 0
    G[G_HUSED] -= 1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def folio_insert(G, FO, FH, fid, order):
    row = G[G_FFREE]
    G[G_FFREE] = FO[row, F_NEXT]
    FO[row, F_ID] = fid
    FO[row, F_ORDER] = order
    FO[row, F_FLAGS] = 0
    FO[row, F_TYPE] = -1
    FO[row, F_OFF] = 0
    FO[row, F_NEXT] = -2
    hash_insert(G, FH, fid, row)
    G[G_FLIVE] += 1
    return row


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def folio_remove(G, FO, FH, row):
    mask = G[G_HCAP] - 1
    h = fhash(FO[row, F_ID], mask)
    while FH[h] != row + 1:
        h = (h + 1) & mask
    hash_unlink(G, FO, FH, h, mask)
    FO[row, F_ID] = 0
    FO[row, F_NEXT] = G[G_FFREE]
    G[G_FFREE] = row
    G[G_FLIVE] -= 1


@njit(cache=True, no_cfunc_wrapper=True)
def rehash(G, FO, FH):
    """Rebuild FH (already sized and zeroed) from the live rows of FO."""
    G[G_HUSED] = 0
    for row in range(FO.shape[0]):
        if FO[row, F_ID] > 0:
            hash_insert(G, FH, FO[row, F_ID], row)


# ============================================================================================
# 2.0.3 freeing slots, 2.4 removing a folio from the swap cache, 2.6.2 try-reclaim
# ============================================================================================


@njit(cache=True, _nrt=False, inline="always")
def swap_entries_free(S, t, off, nr):
    """Free nr slots of one cluster (count 1 uncached, or count 0 and no longer cached)."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    d = dev(t)
    cs = G[G_CS]
    shift = G[G_SHIFT]
    c = G[d + D_CBASE] + (off >> shift)
    s0 = G[d + D_CBASE] * cs + off
    SL[s0 : s0 + nr] = TAG_FREE
    bm_set_range(BM, G, c, off & (cs - 1), nr, ONE)
    CL[c, C_COUNT] -= nr
    swap_range_free(G, t, nr)
    if CL[c, C_COUNT] == 0:
        free_cluster(G, CL, d, c)
    else:
        partial_free_cluster(G, CL, d, c)


@njit(cache=True, _nrt=False, inline="always")
def swap_cache_del_folio(S, row, payload):
    """__swap_cache_del_folio: referenced slots keep their count and take the shadow payload,
    the others are freed (as one batch when none is referenced)."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    t = FO[row, F_TYPE]
    start = FO[row, F_OFF]
    nr = 1 << FO[row, F_ORDER]
    s0 = G[dev(t) + D_CBASE] * G[G_CS] + start
    any_used = False
    for k in range(nr):
        cbits = SL[s0 + k] & COUNT_BITS
        if cbits != 0:
            any_used = True
            SL[s0 + k] = (payload << PAYLOAD_SHIFT) | cbits | TAG_SWAPPED
    FO[row, F_TYPE] = -1
    FO[row, F_OFF] = 0
    if not any_used:
        swap_entries_free(S, t, start, nr)
    else:
        for k in range(nr):
            if SL[s0 + k] & TAG_MASK == TAG_CACHED:
                swap_entries_free(S, t, start + k, ONE)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def try_to_reclaim_swap(S, t, off, flags):
    """+nr if the folio caching `off` was dropped, -nr if not, 0 if there is none."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    s = G[dev(t) + D_CBASE] * G[G_CS] + off
    w = SL[s]
    if w & TAG_MASK != TAG_CACHED:
        return 0
    row = w >> PAYLOAD_SHIFT
    nr = 1 << FO[row, F_ORDER]
    fl = FO[row, F_FLAGS]
    if fl & FL_LOCKED:  # folio_trylock() fails
        return -nr
    eligible = (
        (flags & TTRS_ANYWAY) != 0
        or ((flags & TTRS_UNMAPPED) != 0 and (fl & FL_MAPPED) == 0)
        or ((flags & TTRS_FULL) != 0 and vm_swap_full(G))
    )
    if not eligible or (fl & FL_WRITEBACK) != 0 or G[G_PM] != 0:
        return -nr
    s0 = G[dev(t) + D_CBASE] * G[G_CS] + FO[row, F_OFF]
    for k in range(nr):
        if SL[s0 + k] & COUNT_BITS:
            return -nr
    swap_cache_del_folio(S, row, ZERO)
    return nr


# ============================================================================================
# 2.0.6 the slot finder inside one cluster
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def cluster_scan_range(S, s0, nr):
    """0 free, 1 needs reclaim (cached count-0 slots, vm_swap_full() holds), 2 busy."""
    SL = S[1]
    state = 0
    for k in range(nr):
        w = SL[s0 + k]
        tag = w & TAG_MASK
        if tag == TAG_BAD or (w & COUNT_BITS) != 0:
            return 2
        if tag == TAG_CACHED:
            state = 1
    return state


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def cluster_reclaim_range(S, t, off, nr):
    G, SL = S[0], S[1]
    s0 = G[dev(t) + D_CBASE] * G[G_CS] + off
    for k in range(nr):
        w = SL[s0 + k]
        if w & COUNT_BITS:
            return
        if w & TAG_MASK == TAG_CACHED and try_to_reclaim_swap(S, t, off + k, TTRS_ANYWAY) < 0:
            return


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def range_all_free(SL, s0, nr):
    for k in range(nr):
        if SL[s0 + k] != TAG_FREE:
            return False
    return True


@njit(cache=True, _nrt=False, inline="always")
def cluster_alloc_range(S, t, c, row, off, order):
    """Give [off, off + 2**order) to the folio in `row` (CACHED, count 0), or one slot to
    hibernation (row < 0: SWAPPED, count 1, no shadow)."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = G[G_CS]
    nr = 1 << order
    s0 = G[dev(t) + D_CBASE] * cs + off
    if row >= 0:
        SL[s0 : s0 + nr] = (row << PAYLOAD_SHIFT) | TAG_CACHED
        FO[row, F_TYPE] = t
        FO[row, F_OFF] = off
    else:
        SL[s0] = (1 << COUNT_SHIFT) | TAG_SWAPPED
    bm_set_range(BM, G, c, off & (cs - 1), nr, ZERO)
    if CL[c, C_COUNT] == 0:
        CL[c, C_ORDER] = order
    CL[c, C_COUNT] += nr
    swap_range_alloc(G, t, nr)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def alloc_swap_scan_cluster(S, t, c, row, start, order):
    """Scan cluster c from `start` for an aligned range; relocate it; record the hint."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    d = dev(t)
    cs = G[G_CS]
    nr = 1 << order
    cb = G[d + D_CBASE]
    base = (c - cb) * cs
    end = base + cs
    s_base = cb * cs
    found = 0
    next_off = 0
    if CL[c, C_COUNT] + nr <= cs:
        off = start
        while off + nr <= end:
            if not vm_swap_full(G):
                # Only FREE slots qualify: find the next aligned free range in the bitmap.
                i = bm_find_free(BM, c * G[G_WPC], off - base, cs, nr)
                if i < 0:
                    break
                off = base + i
            else:
                state = cluster_scan_range(S, s_base + off, nr)
                if state == 1:
                    cluster_reclaim_range(S, t, off, nr)
                    if not cluster_is_usable(CL, c, order):
                        break
                    state = 0 if range_all_free(SL, s_base + off, nr) else 2
                if state == 2:
                    off += nr
                    continue
            if G[d + D_WRITEOK] == 0:
                break
            cluster_alloc_range(S, t, c, row, off, order)
            found = off
            if CL[c, C_COUNT] < cs and off + 2 * nr <= end:
                next_off = off + nr
            break
    relocate_cluster(G, CL, d, c)
    if G[d + D_SOLID] != 0:
        G[G_PCPU + 2 * order] = t
        G[G_PCPU + 2 * order + 1] = next_off
    else:
        G[d + D_HINT + order] = next_off
    return found


@njit(cache=True, _nrt=False, inline="always")
def scan_from_hint(S, t, off, row, order):
    G, CL = S[0], S[3]
    shift = G[G_SHIFT]
    c = G[dev(t) + D_CBASE] + (off >> shift)
    if not cluster_is_usable(CL, c, order):
        return 0
    start = ((off >> shift) << shift) if CL[c, C_COUNT] == 0 else off
    return alloc_swap_scan_cluster(S, t, c, row, start, order)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def list_length(G, CL, d, lid):
    n = 0
    c = G[d + D_LHEAD + lid]
    while c >= 0:
        n += 1
        c = CL[c, C_NEXT]
    return n


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def alloc_swap_scan_list(S, t, lid, row, order, scan_all):
    G, CL = S[0], S[3]
    d = dev(t)
    # A scan-all pass visits each cluster that was on the list at most once (MODEL.md).
    budget = list_length(G, CL, d, lid) if scan_all else 1
    while budget > 0:
        c = isolate_lock_cluster(G, CL, d, lid)
        if c < 0:
            return 0
        found = alloc_swap_scan_cluster(S, t, c, row, (c - G[d + D_CBASE]) << G[G_SHIFT], order)
        if found:
            return found
        budget -= 1
    return 0


# ============================================================================================
# 2.11.2 full-cluster reclaim and 2.0.7 the per-device slow path
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_reclaim_full_clusters(S, t, force):
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    d = dev(t)
    cs = G[G_CS]
    to_scan = max(G[d + D_INUSE] // cs, 1) if force else 1
    s_base = G[d + D_CBASE] * cs
    while G[d + D_LHEAD + L_FULL] >= 0:
        c = isolate_lock_cluster(G, CL, d, L_FULL)
        off = (c - G[d + D_CBASE]) * cs
        end = min(G[d + D_MAX], off + cs)
        to_scan -= 1
        while off < end:
            w = SL[s_base + off]
            if w & TAG_MASK == TAG_CACHED and (w & COUNT_BITS) == 0:
                r = try_to_reclaim_swap(S, t, off, TTRS_ANYWAY)
                if r != 0:
                    off += abs(r)
                    continue
            off += 1
        if CL[c, C_FLAG] == CLUSTER_FLAG_NONE:  # nothing was freed
            relocate_cluster(G, CL, d, c)
        if to_scan <= 0:
            break


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def cluster_alloc_swap_entry(S, t, order, row):
    G = S[0]
    d = dev(t)
    pmd = G[G_PMD]
    page_discard = G[d + D_DISCARD] == DISCARD_PAGES
    if order > 0 and G[d + D_BLK] == 0:
        return 0
    if G[d + D_SOLID] == 0 and G[d + D_HINT + order] != 0:
        found = scan_from_hint(S, t, G[d + D_HINT + order], row, order)
        if found:
            return found
    if page_discard:
        found = alloc_swap_scan_list(S, t, L_FREE, row, order, FIRST_ONLY)
        if found:
            return found
    if order < pmd:
        # Every nonfull cluster that fails moves on to frag, so this ends.
        while G[d + D_LHEAD + L_NONFULL + order] >= 0:
            found = alloc_swap_scan_list(S, t, L_NONFULL + order, row, order, FIRST_ONLY)
            if found:
                return found
    if not page_discard:
        found = alloc_swap_scan_list(S, t, L_FREE, row, order, FIRST_ONLY)
        if found:
            return found
    if vm_swap_full(G):
        swap_reclaim_full_clusters(S, t, FIRST_ONLY)
    if order < pmd:
        found = alloc_swap_scan_list(S, t, L_FRAG + order, row, order, FIRST_ONLY)
        if found:
            return found
    if order > 0:
        return 0
    for o in range(1, pmd + 1):  # order 0 steals from higher-order clusters
        found = alloc_swap_scan_list(S, t, L_FRAG + o, row, order, SCAN_ALL)
        if found:
            return found
        found = alloc_swap_scan_list(S, t, L_NONFULL + o, row, order, SCAN_ALL)
        if found:
            return found
    return 0


# ============================================================================================
# 2.1 folio_alloc_swap
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_alloc_slow(S, row, order):
    G = S[0]
    # One pass over the avail list as it was when the walk began (DESIGN decision 7).
    n = 0
    t = G[G_AVHEAD]
    while t >= 0:
        G[G_SCRATCH + n] = t
        n += 1
        t = G[dev(t) + D_AVNEXT]
    for k in range(n):
        t = G[G_SCRATCH + k]
        if G[dev(t) + D_ONAVAIL] == 0:
            continue
        plist_del(G, t, G_AVHEAD, G_AVTAIL, D_AVNEXT, D_AVPREV)  # plist_requeue
        plist_add(G, t, G_AVHEAD, G_AVTAIL, D_AVNEXT, D_AVPREV)
        if cluster_alloc_swap_entry(S, t, order, row):
            return
        if order > 0:  # large folios never fall back to another device
            return


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_sync_discard(S):
    G, CL = S[0], S[3]
    t = G[G_ACHEAD]
    while t >= 0:
        d = dev(t)
        if G[d + D_DISCARD] == DISCARD_PAGES and G[d + D_LHEAD + L_DISCARD] >= 0:
            return swap_do_scheduled_discard(G, CL, t)
        t = G[d + D_ACNEXT]
    return False


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def folio_alloc_swap(S, row, charge_fails):
    G, FO = S[0], S[5]
    order = FO[row, F_ORDER]
    while True:
        t = G[G_PCPU + 2 * order]
        off = G[G_PCPU + 2 * order + 1]
        if t >= 0 and off != 0:  # the per-CPU fast path
            scan_from_hint(S, t, off, row, order)
        if FO[row, F_TYPE] < 0:
            swap_alloc_slow(S, row, order)
        if FO[row, F_TYPE] >= 0 or order > 0 or not swap_sync_discard(S):
            break
    if FO[row, F_TYPE] < 0:
        return -ENOMEM
    if charge_fails:  # mem_cgroup_try_charge_swap() failed: undo as an ordinary free
        swap_cache_del_folio(S, row, ZERO)
        return -ENOMEM
    return 0


# ============================================================================================
# 2.2 / 2.7 dup and put
# ============================================================================================


@njit(cache=True, _nrt=False, inline="always")
def swap_dup(S, t, off, n, alloc_fails):
    """+1 on n consecutive slots of one cluster; -ENOMEM (no change) when overflow storage is
    needed and alloc_fails; NEED_EXT status when a row must be allocated but none is free."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = G[G_CS]
    c = G[dev(t) + D_CBASE] + (off >> G[G_SHIFT])
    s0 = G[dev(t) + D_CBASE] * cs + off
    i0 = off & (cs - 1)
    if CL[c, C_EXT] < 0:
        need = False
        for k in range(n):
            if (SL[s0 + k] >> COUNT_SHIFT) & 15 == COUNT_MAX - 1:
                need = True
        if need:
            if alloc_fails:
                return -ENOMEM
            if G[G_EXTFREE] < 0:
                return NEED_BASE - NEED_EXT
            ext_alloc(G, CL, EXT, c)
    for k in range(n):
        w = SL[s0 + k]
        set_count(G, SL, CL, EXT, s0 + k, c, i0 + k, slot_count(CL, EXT, cs, w, c, i0 + k) + 1)
    return 0


@njit(cache=True, _nrt=False, inline="always")
def swap_put(S, t, off):
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = G[G_CS]
    c = G[dev(t) + D_CBASE] + (off >> G[G_SHIFT])
    s = G[dev(t) + D_CBASE] * cs + off
    i = off & (cs - 1)
    set_count(G, SL, CL, EXT, s, c, i, slot_count(CL, EXT, cs, SL[s], c, i) - 1)


# ============================================================================================
# 2.6 swap_put_entries_direct, one cluster chunk
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swap_put_entries_cluster(S, t, start, end):
    G, SL = S[0], S[1]
    s_base = G[dev(t) + D_CBASE] * G[G_CS]
    need_reclaim = False
    batch = NO_FOLIO
    for off in range(start, end):
        w = SL[s_base + off]
        cached = w & TAG_MASK == TAG_CACHED
        one = (w & COUNT_BITS) == (1 << COUNT_SHIFT)
        if one and not cached:
            if batch < 0:
                batch = off
            continue
        if one:
            need_reclaim = True  # the cached slot drops to 0 and may be reclaimed
        swap_put(S, t, off)
        if batch >= 0:
            swap_entries_free(S, t, batch, off - batch)
            batch = NO_FOLIO
    if batch >= 0:
        swap_entries_free(S, t, batch, end - batch)
    if not need_reclaim:
        return
    off = start
    while off < end:
        r = try_to_reclaim_swap(S, t, off, TTRS_UNMAPPED | TTRS_FULL)
        off += 1
        if r != 0:
            step = abs(r)
            off = (off + step - 1) // step * step


# ============================================================================================
# 2.9 / 2.10 devices
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swapon(S, size, prio, flags, bad):
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    if flags & SWAPON_HAS_PRIORITY:
        if prio < 0 or prio > MAX_SWAP_PRIO:
            return -EINVAL
    else:
        prio = -1
    kind = (flags >> SWAPON_DISCARD_SHIFT) & 3
    if kind == 3:
        return -EINVAL
    t = -1
    for u in range(G[G_MAXSW]):
        if G[dev(u) + D_STATE] == 0:
            t = u
            break
    if t < 0:
        return -EPERM
    if size < 1:
        return -EINVAL
    for b in bad:
        if b <= 0 or b >= size:
            return -EINVAL
    for i in range(bad.shape[0]):  # a duplicate bad page is -EINVAL (bad lists are short)
        for j in range(i):
            if bad[i] == bad[j]:
                return -EINVAL
    # read_swap_header: a swap file may not list bad pages, and the list fits one page.
    if bad.shape[0] > 0 and not flags & SWAPON_BLKDEV:
        return -EINVAL
    if bad.shape[0] > MAX_SWAP_BADPAGES:
        return -EINVAL
    pages = size - 1 - bad.shape[0]
    if pages <= 0:
        return -EINVAL
    cs = G[G_CS]
    shift = G[G_SHIFT]
    ncl = (size + cs - 1) >> shift
    d = dev(t)
    # The type keeps its pool segment across swapoff; reuse it, extend it at the pool end, or
    # take a new one (the facade grows the pool by doubling when this asks for more).
    segbase = G[d + D_SEGBASE]
    segcap = G[d + D_SEGCAP]
    if segcap >= ncl:
        cb = segbase
    elif segcap > 0 and segbase + segcap == G[G_POOLUSED] and segbase + ncl <= G[G_POOLCAP]:
        cb = segbase
        segcap = ncl
        G[G_POOLUSED] = cb + ncl
    elif G[G_POOLUSED] + ncl <= G[G_POOLCAP]:
        cb = G[G_POOLUSED]
        segcap = ncl
        G[G_POOLUSED] = cb + ncl
    else:
        G[G_NEED] = ncl
        return NEED_BASE - NEED_POOL
    wpc = G[G_WPC]
    full_word = FULL_WORD if cs >= WORD_BITS else (1 << cs) - 1
    SL[cb * cs : (cb + ncl) * cs] = TAG_FREE
    BM[cb * wpc : (cb + ncl) * wpc] = full_word
    CL[cb : cb + ncl, C_COUNT] = 0
    CL[cb : cb + ncl, C_FLAG] = CLUSTER_FLAG_NONE
    CL[cb : cb + ncl, C_ORDER] = 0
    CL[cb : cb + ncl, C_NEXT] = -1
    CL[cb : cb + ncl, C_PREV] = -1
    CL[cb : cb + ncl, C_EXT] = -1
    G[d : d + DS] = 0
    G[d + D_LHEAD : d + D_LHEAD + N_LISTS] = -1
    G[d + D_LTAIL : d + D_LTAIL + N_LISTS] = -1
    G[d + D_AVNEXT] = -1
    G[d + D_AVPREV] = -1
    G[d + D_ACNEXT] = -1
    G[d + D_ACPREV] = -1
    G[d + D_SEGBASE] = cb
    G[d + D_SEGCAP] = segcap
    G[d + D_STATE] = 1
    G[d + D_WRITEOK] = 1
    G[d + D_SOLID] = 1 if flags & SWAPON_SOLIDSTATE else 0
    G[d + D_BLK] = 1 if flags & SWAPON_BLKDEV else 0
    G[d + D_DISCARD] = kind
    G[d + D_MAX] = size
    G[d + D_PAGES] = pages
    G[d + D_PRIO] = prio
    G[d + D_CBASE] = cb
    G[d + D_NCL] = ncl
    # BAD slots: the header, the bad pages, and the padding past max (each counts in its cluster)
    mark_bad(G, SL, BM, CL, cb, ZERO)
    for b in bad:
        mark_bad(G, SL, BM, CL, cb, b)
    for off in range(size, ncl * cs):
        mark_bad(G, SL, BM, CL, cb, off)
    for c in range(cb, cb + ncl):
        move_cluster(G, CL, d, c, CLUSTER_FLAG_NONFULL if CL[c, C_COUNT] else CLUSTER_FLAG_FREE)
    G[G_NR] += pages
    G[G_TOTAL] += pages
    plist_add(G, t, G_ACHEAD, G_ACTAIL, D_ACNEXT, D_ACPREV)
    add_to_avail_list(G, t)
    return t


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def mark_bad(G, SL, BM, CL, cb, off):
    cs = G[G_CS]
    c = cb + (off >> G[G_SHIFT])
    SL[cb * cs + off] = TAG_BAD
    bm_set_range(BM, G, c, off & (cs - 1), ONE, ZERO)
    CL[c, C_COUNT] += 1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swapoff_begin(G, t):
    if not type_in_use(G, t) or G[dev(t) + D_WRITEOK] == 0:
        return -EINVAL
    d = dev(t)
    G[d + D_WRITEOK] = 0
    G[d + D_STATE] = 2
    del_from_avail_list(G, t)
    plist_del(G, t, G_ACHEAD, G_ACTAIL, D_ACNEXT, D_ACPREV)
    G[G_NR] -= G[d + D_PAGES]
    G[G_TOTAL] -= G[d + D_PAGES]
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swapoff_check(G, t):
    if not type_in_use(G, t):
        return E_INVALID_TYPE
    if G[dev(t) + D_STATE] != 2:
        return E_NOT_SWAPPING_OFF
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swapoff_end(G, CL, t):
    err = swapoff_check(G, t)
    if err:
        return err
    if G[dev(t) + D_INUSE]:
        return -EBUSY
    swap_do_scheduled_discard(G, CL, t)
    for o in range(G[G_PMD] + 1):
        if G[G_PCPU + 2 * o] == t:
            G[G_PCPU + 2 * o] = -1
            G[G_PCPU + 2 * o + 1] = 0
    G[dev(t) + D_STATE] = 0
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def swapoff_abort(G, t):
    err = swapoff_check(G, t)
    if err:
        return err
    d = dev(t)
    G[d + D_WRITEOK] = 1
    G[d + D_STATE] = 1
    G[G_NR] += G[d + D_PAGES]
    G[G_TOTAL] += G[d + D_PAGES]
    plist_add(G, t, G_ACHEAD, G_ACTAIL, D_ACNEXT, D_ACPREV)
    # The kernel re-inserts the device even when it is full (semantics 2.10 step 4).
    add_to_avail_list(G, t)
    return 0


# ============================================================================================
# argument checks shared by the ops (MODEL.md table)
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_entry(G, t, off):
    if not type_in_use(G, t):
        return E_INVALID_TYPE
    if off < 0 or off >= G[dev(t) + D_MAX]:
        return E_OFFSET
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_new_folio(G, FO, FH, fid):
    if fid <= 0 or fid >= VALUE_LIMIT:
        return E_FOLIO_INVALID_ID
    if folio_lookup(G, FO, FH, fid) >= 0:
        return E_FOLIO_EXISTS
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def cached_folio(G, FO, FH, fid):
    """(row, 0) of a live folio in the swap cache, or (-1, contract error)."""
    row = folio_lookup(G, FO, FH, fid)
    if row < 0:
        return -1, E_FOLIO_UNKNOWN
    if FO[row, F_TYPE] < 0:
        return -1, E_NOT_IN_CACHE
    return row, 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def selected(FO, row, page):
    """(first offset, number of slots) a folio call acts on, or (-1, contract error)."""
    nr = 1 << FO[row, F_ORDER]
    if page == -1:
        return FO[row, F_OFF], nr
    if page < 0 or page >= nr:
        return -1, E_PAGE
    return FO[row, F_OFF] + page, 1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def used_slot(S, t, off):
    """The exact count of a slot that must be in use, or a contract error (< 0)."""
    G, SL, CL, EXT = S[0], S[1], S[3], S[4]
    cs = G[G_CS]
    w = SL[G[dev(t) + D_CBASE] * cs + off]
    if w & TAG_MASK == TAG_BAD:
        return E_BAD_SLOT
    if (w & COUNT_BITS) == 0:
        return E_NOT_SWAPPED
    return slot_count(CL, EXT, cs, w, G[dev(t) + D_CBASE] + (off >> G[G_SHIFT]), off & (cs - 1))


@njit(cache=True, _nrt=False, inline="always")
def add_folio(S, t, fid, order, start):
    """swap_cache_add_folio for a new folio: its slots become CACHED with their counts."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    row = folio_insert(G, FO, FH, fid, order)
    FO[row, F_TYPE] = t
    FO[row, F_OFF] = start
    s0 = G[dev(t) + D_CBASE] * G[G_CS] + start
    for k in range(1 << order):
        SL[s0 + k] = (row << PAYLOAD_SHIFT) | (SL[s0 + k] & COUNT_BITS) | TAG_CACHED
    return fid


# ============================================================================================
# the API ops: one kernel per call of reference.api.OP_SPECS, named op_<call>
# ============================================================================================

# Each op_<call>(S, ops, p) reads its arguments from the op record at p, runs the contract
# checks of reference/MODEL.md in order, and returns the encoded result (or a NEED_* status,
# before anything changed).  The record layout comes from reference.api.OP_SPECS.

OP_NARGS = np.array([len(spec.params) for spec in OP_SPECS], dtype=np.int64)
OP_LAST = np.int64(len(OP_SPECS) - 1)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swapon(S, ops, p):
    nbad = ops[p + 4]
    return swapon(S, ops[p + 1], ops[p + 2], ops[p + 3], ops[p + 5 : p + 5 + nbad])


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swapoff_begin(S, ops, p):
    return swapoff_begin(S[0], ops[p + 1])


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swapoff_end(S, ops, p):
    return swapoff_end(S[0], S[3], ops[p + 1])


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swapoff_abort(S, ops, p):
    return swapoff_abort(S[0], ops[p + 1])


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_discard_work(S, ops, p):
    G, CL = S[0], S[3]
    t = ops[p + 1]
    if not type_in_use(G, t):
        return E_INVALID_TYPE
    swap_do_scheduled_discard(G, CL, t)
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_reclaim_work(S, ops, p):
    t = ops[p + 1]
    if not type_in_use(S[0], t):
        return E_INVALID_TYPE
    swap_reclaim_full_clusters(S, t, FORCE)
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_new(S, ops, p):
    G, FO, FH = S[0], S[5], S[6]
    fid = ops[p + 1]
    order = ops[p + 2]
    err = check_new_folio(G, FO, FH, fid)
    if err:
        return err
    if order < 0 or order > G[G_PMD]:
        return E_FOLIO_ORDER
    if not folio_room(G):
        return NEED_BASE - NEED_FOLIO
    folio_insert(G, FO, FH, fid, order)
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_set(S, ops, p):
    G, FO, FH = S[0], S[5], S[6]
    row = folio_lookup(G, FO, FH, ops[p + 1])
    if row < 0:
        return E_FOLIO_UNKNOWN
    for k in range(3):
        v = ops[p + 2 + k]
        bit = 1 << k  # FL_LOCKED, FL_WRITEBACK, FL_MAPPED
        if v > 0:
            FO[row, F_FLAGS] |= bit
        elif v == 0:
            FO[row, F_FLAGS] &= ~bit
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_drop(S, ops, p):
    G, FO, FH = S[0], S[5], S[6]
    row = folio_lookup(G, FO, FH, ops[p + 1])
    if row < 0:
        return E_FOLIO_UNKNOWN
    if FO[row, F_TYPE] >= 0:
        return E_IN_CACHE
    folio_remove(G, FO, FH, row)
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_entry(S, ops, p):
    G, FO, FH = S[0], S[5], S[6]
    row = folio_lookup(G, FO, FH, ops[p + 1])
    if row < 0:
        return E_FOLIO_UNKNOWN
    if FO[row, F_TYPE] < 0:
        return 0
    return (FO[row, F_TYPE] << ENTRY_SHIFT) | FO[row, F_OFF]


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_alloc_swap(S, ops, p):
    G, FO, FH = S[0], S[5], S[6]
    row = folio_lookup(G, FO, FH, ops[p + 1])
    if row < 0:
        return E_FOLIO_UNKNOWN
    if FO[row, F_TYPE] >= 0:
        return E_IN_CACHE
    return folio_alloc_swap(S, row, ops[p + 2] != 0)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_dup_swap(S, ops, p):
    G, FO, FH = S[0], S[5], S[6]
    row, err = cached_folio(G, FO, FH, ops[p + 1])
    if err:
        return err
    off, n = selected(FO, row, ops[p + 2])
    if off < 0:
        return n
    return swap_dup(S, FO[row, F_TYPE], off, n, ops[p + 3] != 0)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_put_swap(S, ops, p):
    G, SL, FO, FH = S[0], S[1], S[5], S[6]
    row, err = cached_folio(G, FO, FH, ops[p + 1])
    if err:
        return err
    off, n = selected(FO, row, ops[p + 2])
    if off < 0:
        return n
    t = FO[row, F_TYPE]
    s0 = G[dev(t) + D_CBASE] * G[G_CS] + off
    for k in range(n):
        if (SL[s0 + k] & COUNT_BITS) == 0:
            return E_PUT_ZERO
    for k in range(n):
        swap_put(S, t, off + k)  # a cached slot at 0 stays cached: freed with the folio
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_folio_free_swap(S, ops, p):
    G, SL, FO, FH = S[0], S[1], S[5], S[6]
    row = folio_lookup(G, FO, FH, ops[p + 1])
    if row < 0:
        return E_FOLIO_UNKNOWN
    if FO[row, F_TYPE] < 0 or (FO[row, F_FLAGS] & FL_WRITEBACK) != 0 or G[G_PM] != 0:
        return 0
    s0 = G[dev(FO[row, F_TYPE]) + D_CBASE] * G[G_CS] + FO[row, F_OFF]
    for k in range(1 << FO[row, F_ORDER]):
        if SL[s0 + k] & COUNT_BITS:
            return 0
    swap_cache_del_folio(S, row, ZERO)
    return 1


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_cache_del_folio(S, ops, p):
    G, FO, FH, BIG = S[0], S[5], S[6], S[7]
    row, err = cached_folio(G, FO, FH, ops[p + 1])
    if err:
        return err
    if FO[row, F_FLAGS] & FL_WRITEBACK:
        return E_WRITEBACK
    shadow = ops[p + 2]
    if shadow < 0 or shadow >= VALUE_LIMIT:
        return E_INVALID_ARGUMENT
    payload = shadow
    if shadow >= SHADOW_BIG:
        if G[G_BIGN] >= G[G_BIGCAP]:
            return NEED_BASE - NEED_BIG
        BIG[G[G_BIGN]] = shadow
        payload = SHADOW_BIG + G[G_BIGN]
        G[G_BIGN] += 1
    swap_cache_del_folio(S, row, payload)
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_swapin(S, t, off, fid):
    """The checks swap_cache_alloc_folio and swapin_folio share: entry, then new folio id."""
    G, FO, FH = S[0], S[5], S[6]
    err = check_entry(G, t, off)
    if err:
        return err
    return check_new_folio(G, FO, FH, fid)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_cache_alloc_folio(S, ops, p):
    G, SL, FO = S[0], S[1], S[5]
    t = ops[p + 1]
    off = ops[p + 2]
    err = check_swapin(S, t, off, ops[p + 3])
    if err:
        return err
    w = SL[G[dev(t) + D_CBASE] * G[G_CS] + off]
    if w & TAG_MASK == TAG_CACHED:
        return FO[w >> PAYLOAD_SHIFT, F_ID]
    if w & TAG_MASK == TAG_BAD or (w & COUNT_BITS) == 0:  # not swapped: nothing to read
        return 0
    if not folio_room(G):
        return NEED_BASE - NEED_FOLIO
    return add_folio(S, t, ops[p + 3], ZERO, off)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swapin_folio(S, ops, p):
    G, SL, FO = S[0], S[1], S[5]
    t = ops[p + 1]
    off = ops[p + 2]
    err = check_swapin(S, t, off, ops[p + 3])
    if err:
        return err
    order = ops[p + 4]
    if order < 0 or order > G[G_PMD]:
        return E_FOLIO_ORDER
    s_base = G[dev(t) + D_CBASE] * G[G_CS]
    nr = 1 << order
    start = off - off % nr
    mx = G[dev(t) + D_MAX]
    for o in range(start, start + nr):
        if o >= mx or SL[s_base + o] & TAG_MASK == TAG_BAD:
            return E_BAD_SLOT
    for o in range(start, start + nr):
        w = SL[s_base + o]
        if w & TAG_MASK == TAG_CACHED:
            return FO[w >> PAYLOAD_SHIFT, F_ID] if order == 0 else 0
        if (w & COUNT_BITS) == 0:
            return 0
    if not folio_room(G):
        return NEED_BASE - NEED_FOLIO
    return add_folio(S, t, ops[p + 3], order, start)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_put_entries_direct(S, ops, p):
    G = S[0]
    t = ops[p + 1]
    start = ops[p + 2]
    nr = ops[p + 3]
    err = check_entry(G, t, start)
    if err:
        return err
    if nr < 1:
        return E_INVALID_ARGUMENT
    if nr > G[dev(t) + D_MAX] - start:
        return E_OFFSET
    for off in range(start, start + nr):
        c = used_slot(S, t, off)
        if c < 0:
            return c
    off = start
    while off < start + nr:
        chunk_end = min(start + nr, ((off >> G[G_SHIFT]) + 1) << G[G_SHIFT])
        swap_put_entries_cluster(S, t, off, chunk_end)
        off = chunk_end
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_dup_entry_direct(S, ops, p):
    t = ops[p + 1]
    off = ops[p + 2]
    err = check_entry(S[0], t, off)
    if err:
        return err
    c = used_slot(S, t, off)
    if c < 0:
        return c
    return swap_dup(S, t, off, ONE, ops[p + 3] != 0)


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_alloc_hibernation_slot(S, ops, p):
    G = S[0]
    t = ops[p + 1]
    if not type_in_use(G, t) or G[dev(t) + D_WRITEOK] == 0:
        return 0
    found = 0
    if G[G_PCPU] == t and G[G_PCPU + 1] != 0:
        found = scan_from_hint(S, t, G[G_PCPU + 1], NO_FOLIO, ZERO)
    if not found:
        found = cluster_alloc_swap_entry(S, t, ZERO, NO_FOLIO)
    return (t << ENTRY_SHIFT) | found if found else 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_free_hibernation_slot(S, ops, p):
    G, SL = S[0], S[1]
    t = ops[p + 1]
    off = ops[p + 2]
    err = check_entry(G, t, off)
    if err:
        return err
    c = used_slot(S, t, off)
    if c < 0:
        return c
    if c != 1:
        return E_NOT_HIB
    swap_put(S, t, off)
    if SL[G[dev(t) + D_CBASE] * G[G_CS] + off] & TAG_MASK != TAG_CACHED:
        swap_entries_free(S, t, off, ONE)
    else:  # only a cached slot has a folio to reclaim
        try_to_reclaim_swap(S, t, off, TTRS_ANYWAY)
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_set_pm_suspended_storage(S, ops, p):
    S[0][G_PM] = 1 if ops[p + 1] != 0 else 0
    return 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def slot_word(S, ops, p):
    """(the slot word of the entry in the record, 0), or (0, contract error)."""
    G, SL = S[0], S[1]
    t = ops[p + 1]
    off = ops[p + 2]
    err = check_entry(G, t, off)
    if err:
        return ZERO, err
    return SL[G[dev(t) + D_CBASE] * G[G_CS] + off], ZERO


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_count(S, ops, p):
    G, CL, EXT = S[0], S[3], S[4]
    w, err = slot_word(S, ops, p)
    if err:
        return err
    if w & TAG_MASK == TAG_BAD:
        return 0
    t = ops[p + 1]
    off = ops[p + 2]
    cs = G[G_CS]
    return slot_count(CL, EXT, cs, w, G[dev(t) + D_CBASE] + (off >> G[G_SHIFT]), off & (cs - 1))


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_cache_folio(S, ops, p):
    w, err = slot_word(S, ops, p)
    if err:
        return err
    return S[5][w >> PAYLOAD_SHIFT, F_ID] if w & TAG_MASK == TAG_CACHED else 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_swap_shadow(S, ops, p):
    w, err = slot_word(S, ops, p)
    if err:
        return err
    return shadow_of(S[7], w) if w & TAG_MASK == TAG_SWAPPED else 0


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_nr_swap_pages(S, ops, p):
    return S[0][G_NR]


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_total_swap_pages(S, ops, p):
    return S[0][G_TOTAL]


# ============================================================================================
# op records and the batch loop
# ============================================================================================


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def op_length(ops, p):
    """Length of the op record at p, or -1 for an unknown op, -2 for a cut-off record."""
    n = ops.shape[0]
    code = ops[p]
    if code < 0 or code > OP_LAST:
        return -1
    ln = OP_NARGS[code] + 1
    if p + ln > n:
        return -2
    if code == OP_SWAPON:
        nbad = ops[p + 4]
        if nbad < 0 or p + ln + nbad > n:
            return -2
        ln += nbad
    return ln


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def count_ops(ops):
    """Number of op records, or -(position + 1) of the first malformed one."""
    p = 0
    n = 0
    while p < ops.shape[0]:
        ln = op_length(ops, p)
        if ln < 0:
            return -(p + 1)
        p += ln
        n += 1
    return n


# Inlined into run_ops (numba IR inlining): as a called function its prologue, sized for
# every inlined callee, cost ~25 ns per op, more than most ops themselves.
@njit(cache=True, _nrt=False, inline="always")
def exec_op(S, ops, p):
    """Run the op record at p; its encoded result, or NEED_BASE - need (nothing changed)."""
    code = ops[p]
    # The most frequent ops of the world's traces first.
    if code == OP_FOLIO_NEW:
        return op_folio_new(S, ops, p)
    if code == OP_FOLIO_ALLOC_SWAP:
        return op_folio_alloc_swap(S, ops, p)
    if code == OP_FOLIO_DUP_SWAP:
        return op_folio_dup_swap(S, ops, p)
    if code == OP_FOLIO_PUT_SWAP:
        return op_folio_put_swap(S, ops, p)
    if code == OP_SWAP_CACHE_DEL_FOLIO:
        return op_swap_cache_del_folio(S, ops, p)
    if code == OP_SWAP_PUT_ENTRIES_DIRECT:
        return op_swap_put_entries_direct(S, ops, p)
    if code == OP_FOLIO_DROP:
        return op_folio_drop(S, ops, p)
    if code == OP_FOLIO_FREE_SWAP:
        return op_folio_free_swap(S, ops, p)
    if code == OP_SWAP_CACHE_ALLOC_FOLIO:
        return op_swap_cache_alloc_folio(S, ops, p)
    if code == OP_SWAPIN_FOLIO:
        return op_swapin_folio(S, ops, p)
    if code == OP_SWAP_DUP_ENTRY_DIRECT:
        return op_swap_dup_entry_direct(S, ops, p)
    if code == OP_FOLIO_SET:
        return op_folio_set(S, ops, p)
    if code == OP_FOLIO_ENTRY:
        return op_folio_entry(S, ops, p)
    if code == OP_SWAP_COUNT:
        return op_swap_count(S, ops, p)
    if code == OP_SWAP_CACHE_FOLIO:
        return op_swap_cache_folio(S, ops, p)
    if code == OP_SWAP_SHADOW:
        return op_swap_shadow(S, ops, p)
    if code == OP_SWAP_ALLOC_HIBERNATION_SLOT:
        return op_swap_alloc_hibernation_slot(S, ops, p)
    if code == OP_SWAP_FREE_HIBERNATION_SLOT:
        return op_swap_free_hibernation_slot(S, ops, p)
    if code == OP_SWAPON:
        return op_swapon(S, ops, p)
    if code == OP_SWAPOFF_BEGIN:
        return op_swapoff_begin(S, ops, p)
    if code == OP_SWAPOFF_END:
        return op_swapoff_end(S, ops, p)
    if code == OP_SWAPOFF_ABORT:
        return op_swapoff_abort(S, ops, p)
    if code == OP_SWAP_DISCARD_WORK:
        return op_swap_discard_work(S, ops, p)
    if code == OP_SWAP_RECLAIM_WORK:
        return op_swap_reclaim_work(S, ops, p)
    if code == OP_SET_PM_SUSPENDED_STORAGE:
        return op_set_pm_suspended_storage(S, ops, p)
    if code == OP_NR_SWAP_PAGES:
        return op_nr_swap_pages(S, ops, p)
    return op_total_swap_pages(S, ops, p)  # OP_TOTAL_SWAP_PAGES: count_ops checked every code


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def run_ops(S, ops, p, out, k):
    """Run op records from position p, storing results from out[k]; stop at the end or at an
    op that needs a bigger array. Returns (p, k, need) with need 0 when every op ran."""
    n = ops.shape[0]
    while p < n:
        r = exec_op(S, ops, p)
        if r <= NEED_BASE - 1 and r >= NEED_BASE - 4:
            return p, k, NEED_BASE - r
        out[k] = r
        k += 1
        p += op_length(ops, p)
    return p, k, 0


# ============================================================================================
# state digests (reference/digest.py defines them)
# ============================================================================================

# Recomputed from the arrays after every op of a digest batch: a pass over the device
# segments, the folio table and the lists, a few ns per non-free slot at fuzzing sizes.  It
# mirrors optimized.observe.snapshot_data record by record, so it equals
# reference.digest.snapshot_digest(snapshot) whenever the snapshot is well formed.  These
# kernels keep numba's runtime on: its hash() of a tuple needs it (it allocates nothing).


# A plain int, not frozen to np.int64: under NUMBA_DISABLE_JIT the sum is an unbounded Python
# int, which numpy could not convert for the mask.
digest_mask = int(DIGEST_MASK)


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _list_links(G, CL, t, cb, ncl, head, code):
    total = 0
    prev = LINK_HEAD
    c = G[head]
    n = 0
    while c >= 0 and n <= ncl:
        cur = c - cb
        total += hash((R_LINK, t, code, prev, cur))
        prev = cur
        c = CL[c, C_NEXT]
        n += 1
    return total + hash((R_LINK, t, code, prev, LINK_END))


@njit(cache=True, no_cfunc_wrapper=True)
def state_digest(S, allocator):
    """The 63-bit digest of the snapshot at level allocator (True) or contract (False)."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = G[G_CS]
    nord = G[G_PMD] + 1
    total = hash((R_GLOBAL, G[G_NR], G[G_TOTAL], G[G_PM]))
    for t in range(G[G_MAXSW]):
        d = G_DEV + t * DS
        st = G[d + D_STATE]
        if st == 0:
            continue
        total += hash(
            (
                R_DEVICE,
                t,
                G[d + D_MAX],
                G[d + D_PAGES],
                G[d + D_INUSE],
                G[d + D_PRIO],
                1 if G[d + D_WRITEOK] != 0 else 0,
                1 if G[d + D_ONAVAIL] != 0 else 0,
                1 if st == 2 else 0,
                1 if G[d + D_SOLID] != 0 else 0,
                1 if G[d + D_BLK] != 0 else 0,
                G[d + D_DISCARD],
            )
        )
        cb = G[d + D_CBASE]
        ncl = G[d + D_NCL]
        s0 = cb * cs
        for s in range(s0, s0 + ncl * cs):
            w = SL[s]
            if w == 0:
                continue
            off = s - s0
            tag = w & TAG_MASK
            if tag == TAG_BAD:
                total += hash((R_SLOT, t, off, 3, 0, 0, 0))
                continue
            count = (w >> COUNT_SHIFT) & 15
            if count == COUNT_MAX:
                count = EXT[CL[cb + off // cs, C_EXT], off % cs]
            payload = w >> PAYLOAD_SHIFT
            if tag == TAG_CACHED:
                total += hash((R_SLOT, t, off, 1, count, FO[payload, F_ID], 0))
            else:
                shadow = BIG[payload - SHADOW_BIG] if payload >= SHADOW_BIG else payload
                total += hash((R_SLOT, t, off, 2, count, 0, shadow))
        if allocator:
            for ci in range(ncl):
                c = cb + ci
                total += hash((R_CLUSTER, t, ci, CL[c, C_COUNT], CL[c, C_FLAG], CL[c, C_ORDER]))
            for o in range(nord):
                total += hash((R_HINT, t, o, G[d + D_HINT + o]))
            total += _list_links(G, CL, t, cb, ncl, d + D_LHEAD + L_FREE, LIST_FREE)
            total += _list_links(G, CL, t, cb, ncl, d + D_LHEAD + L_FULL, LIST_FULL)
            total += _list_links(G, CL, t, cb, ncl, d + D_LHEAD + L_DISCARD, LIST_DISCARD)
            for o in range(nord):
                total += _list_links(G, CL, t, cb, ncl, d + D_LHEAD + L_NONFULL + o, LIST_NONFULL + o)
                total += _list_links(G, CL, t, cb, ncl, d + D_LHEAD + L_FRAG + o, LIST_FRAG + o)
    for row in range(FO.shape[0]):
        fid = FO[row, F_ID]
        if fid <= 0:
            continue
        flags = FO[row, F_FLAGS]
        et = FO[row, F_TYPE]
        eo = FO[row, F_OFF] if et >= 0 else -1
        if et < 0:
            et = -1
        total += hash(
            (
                R_FOLIO,
                fid,
                FO[row, F_ORDER],
                et,
                eo,
                1 if flags & FL_LOCKED else 0,
                1 if flags & FL_WRITEBACK else 0,
                1 if flags & FL_MAPPED else 0,
            )
        )
    if allocator:
        for o in range(nord):
            t = G[G_PCPU + 2 * o]
            if t < 0:
                total += hash((R_PERCPU, o, -1, -1))
            else:
                total += hash((R_PERCPU, o, t, G[G_PCPU + 2 * o + 1]))
        prev = LINK_HEAD
        t = G[G_AVHEAD]
        n = 0
        while t >= 0 and n <= G[G_MAXSW]:
            total += hash((R_AVAIL, prev, t))
            prev = t
            t = G[G_DEV + t * DS + D_AVNEXT]
            n += 1
        total += hash((R_AVAIL, prev, LINK_END))
    return total & digest_mask


@njit(cache=True, no_cfunc_wrapper=True)
def run_ops_digest(S, ops, p, out, dig, k, allocator):
    """`run_ops`, storing also the state digest after every op in dig[k]."""
    # One op per run_ops call on a prefix view of `ops`: run_ops is compiled once for both
    # paths (inlining exec_op a second time here would double the cold compile).
    n = ops.shape[0]
    while p < n:
        end = p + op_length(ops, p)
        p_next, k_next, need = run_ops(S, ops[:end], p, out, k)
        if need != 0:
            return p, k, need
        dig[k] = state_digest(S, allocator)
        p, k = p_next, k_next
    return p, k, 0


# ============================================================================================
# consistency of the packed state (semantics 3.2 plus the structures of this module)
# ============================================================================================

# check_state() returns [code, a, b, c]; optimized.observe turns codes into messages.
INV_OK = 0
INV_CLUSTER_COUNT = 1
INV_BITMAP = 2
INV_SLOT_WORD = 3
INV_SLOT_FOLIO = 4
INV_OVERFLOW_SLOT = 5
INV_OVERFLOW_ROW = 6
INV_CLUSTER_FLAG = 7
INV_LIST_LINKS = 8
INV_LIST_MEMBER = 9
INV_INUSE = 10
INV_INUSE_PAGES = 11
INV_ON_AVAIL = 12
INV_OFF_AVAIL = 13
INV_HINT = 14
INV_FOLIO_RANGE = 15
INV_TOTAL = 16
INV_NR = 17
INV_ACTIVE = 18
INV_PERCPU = 19
INV_FOLIO_TABLE = 20
_freeze_constants(globals())


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _fail(res, code, a, b, c):
    res[0] = code
    res[1] = a
    res[2] = b
    res[3] = c
    return res


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_slots(S, t, c, res):
    """Slot words, bitmap bits and overflow storage of one cluster; returns (nonfree, nbad)."""
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = G[G_CS]
    d = dev(t)
    cb = G[d + D_CBASE]
    row_ext = CL[c, C_EXT]
    nonfree = 0
    nbad = 0
    nover = 0
    for i in range(cs):
        off = (c - cb) * cs + i
        w = SL[c * cs + i]
        tag = w & TAG_MASK
        bit = (BM[c * G[G_WPC] + (i >> 5)] >> (i & 31)) & 1
        if (tag == TAG_FREE) != (bit == 1):
            _fail(res, INV_BITMAP, t, c - cb, off)
            return 0, 0
        if tag == TAG_FREE:
            if w != 0:
                _fail(res, INV_SLOT_WORD, t, off, w)
                return 0, 0
            continue
        nonfree += 1
        if tag == TAG_BAD:
            nbad += 1
            if w != TAG_BAD:
                _fail(res, INV_SLOT_WORD, t, off, w)
                return 0, 0
            continue
        inline = (w >> COUNT_SHIFT) & 15
        if tag == TAG_SWAPPED and inline == 0:
            _fail(res, INV_SLOT_WORD, t, off, w)
            return 0, 0
        if tag == TAG_CACHED:
            row = w >> PAYLOAD_SHIFT
            if row >= FO.shape[0] or FO[row, F_ID] <= 0 or FO[row, F_TYPE] != t:
                _fail(res, INV_SLOT_FOLIO, t, off, row)
                return 0, 0
            if not FO[row, F_OFF] <= off < FO[row, F_OFF] + (1 << FO[row, F_ORDER]):
                _fail(res, INV_SLOT_FOLIO, t, off, row)
                return 0, 0
        if inline == COUNT_MAX:
            nover += 1
            if row_ext < 0 or EXT[row_ext, i] < COUNT_MAX:
                _fail(res, INV_OVERFLOW_SLOT, t, off, inline)
                return 0, 0
        elif row_ext >= 0 and EXT[row_ext, i] != 0:
            _fail(res, INV_OVERFLOW_SLOT, t, off, inline)
            return 0, 0
    if (row_ext >= 0) != (nover > 0) or (row_ext >= 0 and EXT[row_ext, cs] != nover):
        _fail(res, INV_OVERFLOW_ROW, t, c - cb, nover)
    return nonfree, nbad


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_cluster_flag(G, CL, c):
    flag = CL[c, C_FLAG]
    count = CL[c, C_COUNT]
    if flag == CLUSTER_FLAG_NONE or flag > CLUSTER_FLAG_DISCARD:
        return False
    if flag == CLUSTER_FLAG_FREE or flag == CLUSTER_FLAG_DISCARD:
        return count == 0 and (flag != CLUSTER_FLAG_FREE or CL[c, C_ORDER] == 0)
    if flag == CLUSTER_FLAG_NONFULL:
        return count > 0
    if flag == CLUSTER_FLAG_FRAG:
        return 0 < count < G[G_CS]
    return count == G[G_CS]


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_lists(G, CL, t, seen, res):
    d = dev(t)
    cb = G[d + D_CBASE]
    ncl = G[d + D_NCL]
    for lid in range(N_LISTS):
        c = G[d + D_LHEAD + lid]
        prev = -1
        while c >= 0:
            if c < cb or c >= cb + ncl or CL[c, C_PREV] != prev:
                _fail(res, INV_LIST_LINKS, t, lid, c - cb)
                return
            if list_of(CL, c) != lid or seen[c] > 0:
                _fail(res, INV_LIST_MEMBER, t, c - cb, lid)
                return
            seen[c] += 1
            prev = c
            c = CL[c, C_NEXT]
        if G[d + D_LTAIL + lid] != prev:
            _fail(res, INV_LIST_LINKS, t, lid, prev)
            return
    for c in range(cb, cb + ncl):
        if seen[c] != 1:
            _fail(res, INV_LIST_MEMBER, t, c - cb, NO_FOLIO)
            return


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_device(S, t, seen, res):
    G, CL = S[0], S[3]
    d = dev(t)
    cb = G[d + D_CBASE]
    used = 0
    for c in range(cb, cb + G[d + D_NCL]):
        nonfree, nbad = check_slots(S, t, c, res)
        if res[0]:
            return
        if CL[c, C_COUNT] != nonfree:
            _fail(res, INV_CLUSTER_COUNT, t, c - cb, CL[c, C_COUNT])
            return
        if not check_cluster_flag(G, CL, c):
            _fail(res, INV_CLUSTER_FLAG, t, c - cb, CL[c, C_FLAG])
            return
        used += nonfree - nbad
    check_lists(G, CL, t, seen, res)
    if res[0]:
        return
    if G[d + D_INUSE] != used:
        _fail(res, INV_INUSE, t, G[d + D_INUSE], used)
        return
    if G[d + D_INUSE] > G[d + D_PAGES]:
        _fail(res, INV_INUSE_PAGES, t, G[d + D_INUSE], G[d + D_PAGES])
        return
    if G[d + D_WRITEOK] != 0 and G[d + D_INUSE] < G[d + D_PAGES] and G[d + D_ONAVAIL] == 0:
        _fail(res, INV_OFF_AVAIL, t, ZERO, ZERO)
        return
    if G[d + D_WRITEOK] == 0 and G[d + D_ONAVAIL] != 0:
        _fail(res, INV_ON_AVAIL, t, ONE, ZERO)
        return
    for o in range(G[G_PMD] + 1):
        if G[d + D_HINT + o] % (1 << o) != 0:
            _fail(res, INV_HINT, t, o, G[d + D_HINT + o])
            return


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_globals(G, res):
    maxsw = G[G_MAXSW]
    marks = np.zeros(maxsw, np.int64)
    t = G[G_AVHEAD]
    n = 0
    while t >= 0 and n <= maxsw:
        marks[t] += 1
        n += 1
        t = G[dev(t) + D_AVNEXT]
    t = G[G_ACHEAD]
    n = 0
    while t >= 0 and n <= maxsw:
        marks[t] += 2
        n += 1
        t = G[dev(t) + D_ACNEXT]
    total = 0
    nr = 0
    for t in range(maxsw):
        d = dev(t)
        state = G[d + D_STATE]
        if (marks[t] & 1) != (1 if state != 0 and G[d + D_ONAVAIL] != 0 else 0) or marks[t] > 3:
            return _fail(res, INV_ON_AVAIL, t, marks[t], ZERO)
        if (marks[t] >> 1) != (1 if state == 1 else 0):
            return _fail(res, INV_ACTIVE, t, marks[t], ZERO)
        if state == 1:
            total += G[d + D_PAGES]
            nr += G[d + D_PAGES] - G[d + D_INUSE]
        elif state == 2:
            nr -= G[d + D_INUSE]
    if G[G_TOTAL] != total:
        return _fail(res, INV_TOTAL, G[G_TOTAL], total, ZERO)
    if G[G_NR] != nr:
        return _fail(res, INV_NR, G[G_NR], nr, ZERO)
    for o in range(G[G_PMD] + 1):
        t = G[G_PCPU + 2 * o]
        off = G[G_PCPU + 2 * o + 1]
        if off % (1 << o) != 0 or (t >= 0 and (not type_in_use(G, t) or G[dev(t) + D_SOLID] == 0)):
            return _fail(res, INV_PERCPU, o, t, off)
    return res


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def check_folios(S, res):
    G, SL, BM, CL, EXT, FO, FH, BIG = S
    cs = G[G_CS]
    live = 0
    for row in range(FO.shape[0]):
        fid = FO[row, F_ID]
        if fid <= 0:
            continue
        live += 1
        if folio_lookup(G, FO, FH, fid) != row:
            return _fail(res, INV_FOLIO_TABLE, fid, row, ZERO)
        t = FO[row, F_TYPE]
        if t < 0:
            continue
        start = FO[row, F_OFF]
        nr = 1 << FO[row, F_ORDER]
        if not type_in_use(G, t) or start % nr != 0 or start // cs != (start + nr - 1) // cs:
            return _fail(res, INV_FOLIO_RANGE, fid, t, start)
        s0 = G[dev(t) + D_CBASE] * cs + start
        for k in range(nr):
            w = SL[s0 + k]
            if w & TAG_MASK != TAG_CACHED or (w >> PAYLOAD_SHIFT) != row:
                return _fail(res, INV_FOLIO_RANGE, fid, t, start + k)
    if live != G[G_FLIVE]:
        return _fail(res, INV_FOLIO_TABLE, live, G[G_FLIVE], NO_FOLIO)
    return res


@njit(cache=True, no_cfunc_wrapper=True)
def check_state(S):
    """[0, 0, 0, 0] when the state is consistent, else the first failure (INV_* code, args)."""
    G, CL = S[0], S[3]
    res = np.zeros(4, np.int64)
    seen = np.zeros(CL.shape[0], np.int64)
    for t in range(G[G_MAXSW]):
        if G[dev(t) + D_STATE] != 0:
            check_device(S, t, seen, res)
            if res[0]:
                return res
    check_globals(G, res)
    if res[0]:
        return res
    return check_folios(S, res)
