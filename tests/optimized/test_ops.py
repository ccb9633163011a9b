"""The kernels' op table is derived from `reference.api.OP_SPECS`: record lengths, the last
code, one `op_<call>` kernel per API call, and the op code each facade method sends."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from optimized import OptimizedSwap
from optimized import kernels as k
from reference.api import OP_SPECS, SwapContractError, decode_ops


def test_record_lengths_and_last_code_follow_the_op_table():
    assert k.OP_NARGS.tolist() == [len(spec.params) for spec in OP_SPECS]
    assert int(k.OP_LAST) + 1 == len(OP_SPECS)
    for spec in OP_SPECS:
        record = _record(spec)
        if spec.name == "swapon":
            record[4] = 2  # nbad: two bad pages follow the fixed arguments
            record += [1, 2]
        assert k.op_length(np.array(record, dtype=np.int64), 0) == len(record)
    assert k.op_length(np.array([len(OP_SPECS)], dtype=np.int64), 0) == -1


@pytest.mark.parametrize("spec", OP_SPECS, ids=lambda spec: spec.name)
def test_every_call_has_its_op_kernel(spec):
    assert callable(getattr(k, f"op_{spec.name}"))


def _record(spec):
    record = [spec.code] + [0] * len(spec.params)
    if spec.name == "swapon":
        record[1] = 64
    return record


@pytest.mark.parametrize("spec", OP_SPECS, ids=lambda spec: spec.name)
def test_facade_methods_send_their_own_op_code(spec, monkeypatch):
    swap = OptimizedSwap(cluster_size=8)
    swap.swapon(64)
    sent = []
    real_run = swap._run

    def recording_run(*record):
        sent.append(record[0])
        return real_run(*record)

    monkeypatch.setattr(swap, "_run", recording_run)
    (call,) = decode_ops(_record(spec))
    with contextlib.suppress(SwapContractError):  # zero arguments may break the contract
        call.invoke(swap)
    if spec.name in ("nr_swap_pages", "total_swap_pages"):  # read from G without a kernel call
        assert sent == []
    else:
        assert sent == [spec.code]
