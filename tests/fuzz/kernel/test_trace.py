"""Kernel-lane traces: round trip, and every malformed record or impossible action is one line
naming the line and the reason (no kernel needed)."""

from __future__ import annotations

import json

import pytest

from fuzz.cli import main
from fuzz.kernel.trace import TRACE_KEY, check_actions, read_kernel_trace, write_kernel_trace
from fuzz.trace import TraceError


def _write(tmp_path, records: list[dict], pages: int = 8) -> str:
    path = tmp_path / "t.jsonl"
    lines = [json.dumps({TRACE_KEY: 1, "pages": pages})] + [
        json.dumps({"i": i, **r}) for i, r in enumerate(records)
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_round_trip(tmp_path) -> None:
    actions = [
        {"op": "pageout", "start": 0, "n": 3},
        {"op": "swapon", "priority": 9, "blkdev": False, "bad": [], "discard": "none"},
        {"op": "swapoff", "type": 1},
    ]
    write_kernel_trace(tmp_path / "t.jsonl", {TRACE_KEY: 1, "pages": 8}, actions)
    header, read = read_kernel_trace(str(tmp_path / "t.jsonl"))
    assert header["pages"] == 8 and read == actions


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"op": "pageout", "start": 6, "n": 3}], r":2: pageout range \[6, 9\) is not within 8 pages"),
        ([{"op": "zap", "start": 0, "n": 0}], ":2: zap range"),
        ([{"op": "read", "page": 8}], ":2: read page 8 is not within 8 pages"),
        ([{"op": "child_exit", "child": 1}], ":2: child_exit of child 1, which is not alive"),
        ([{"op": "fork", "child": 1}, {"op": "fork", "child": 1}], ":3: fork of child 1"),
        ([{"op": "swapoff", "type": 1}], ":2: swapoff of type 1, which is not a live lane device"),
        (
            [{"op": "swapon", "priority": 40000, "blkdev": False, "bad": [], "discard": "none"}],
            ":2: swapon needs priority",
        ),
        (
            [{"op": "swapon", "priority": 1, "blkdev": True, "bad": [], "discard": "none"}] * 3,
            ":4: swapon needs .* at most 3 devices",
        ),
        ([{"op": "write", "page": True}], r":2: write needs page \(int\)"),
        (
            [{"op": "swapon", "priority": 1, "blkdev": 1, "bad": [], "discard": "none"}],
            ":2: swapon needs priority",
        ),
        (
            [{"op": "swapon", "priority": 1, "blkdev": True, "bad": [0], "discard": "none"}],
            ":2: swapon bad pages",
        ),
        (
            [{"op": "swapon", "priority": 1, "blkdev": True, "bad": [3, 3], "discard": "none"}],
            ":2: swapon bad pages",
        ),
        ([{"op": "mlock", "page": 1}], ":2: bad kernel-lane op record"),
        (
            [{"op": "swapon", "priority": 1, "blkdev": True, "bad": [], "discard": "pages"}],
            ":2: swapon needs",
        ),
        (
            [{"op": "swapon", "priority": 1, "blkdev": False, "bad": [], "discard": "once"}],
            ":2: swapon: the lane",
        ),
    ],
)
def test_malformed_trace_is_one_line(tmp_path, records: list[dict], message: str) -> None:
    with pytest.raises(TraceError, match=message) as err:
        read_kernel_trace(_write(tmp_path, records))
    assert "\n" not in str(err.value)


def test_header_pages_must_be_in_range(tmp_path) -> None:
    with pytest.raises(TraceError, match="header pages"):
        read_kernel_trace(_write(tmp_path, [], pages=0))


def test_swapoff_frees_the_type_for_the_next_swapon() -> None:
    actions = [
        {"op": "swapoff", "type": 0},
        {"op": "swapon", "priority": 1, "blkdev": True, "bad": [], "discard": "none"},
        {"op": "swapoff", "type": 0},
    ]
    assert check_actions(actions, 8) is None


def test_refused_swapon_takes_no_type() -> None:
    file_with_bad = {"op": "swapon", "priority": 1, "blkdev": False, "bad": [7], "discard": "none"}
    assert check_actions([file_with_bad, {"op": "swapoff", "type": 1}], 8) == (
        1,
        "swapoff of type 1, which is not a live lane device",
    )


def test_trace_reader_rejects_bad_input(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"swapdiff_trace": 1}) + "\n")
    with pytest.raises(TraceError, match="not a kernel-lane trace"):
        read_kernel_trace(str(bad))
    good = tmp_path / "t.jsonl"
    write_kernel_trace(good, {TRACE_KEY: 1, "pages": 8}, [{"op": "read", "page": 1}])
    assert read_kernel_trace(str(good))[1] == [{"op": "read", "page": 1}]
    good.write_text(good.read_text().replace('"page": 1', '"page": "x"'))
    with pytest.raises(TraceError, match=r"read needs page \(int\)"):
        read_kernel_trace(str(good))
    assert main(["kernel", "--replay", str(bad)]) == 2


MTHP_HEADER = {"size_kb": 64, "order": 4, "folios": 2}


def test_large_folio_ops_round_trip_with_the_mthp_header(tmp_path) -> None:
    actions = [
        {"op": "lpageout", "start": 16, "n": 16},
        {"op": "lread", "page": 20},
        {"op": "lwrite", "page": 31},
        {"op": "lzap", "start": 0, "n": 32},
    ]
    write_kernel_trace(tmp_path / "t.jsonl", {TRACE_KEY: 1, "pages": 8, "mthp": MTHP_HEADER}, actions)
    header, read = read_kernel_trace(str(tmp_path / "t.jsonl"))
    assert header["mthp"] == MTHP_HEADER and read == actions


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"op": "lpageout", "start": 8, "n": 16}, r"lpageout range \[8, 24\) is not whole 16-page blocks"),
        (
            {"op": "lzap", "start": 16, "n": 32},
            r"lzap range \[16, 48\) is not whole 16-page blocks within 32",
        ),
        ({"op": "lread", "page": 32}, "lread page 32 is not within 32 large-region pages"),
    ],
)
def test_large_folio_ops_must_cover_whole_blocks_of_the_region(action: dict, message: str) -> None:
    problem = check_actions([action], 8, 0, (32, 16))
    assert problem is not None and problem[0] == 0
    assert __import__("re").search(message, problem[1])


def test_large_folio_ops_need_a_large_region(tmp_path) -> None:
    path = _write(tmp_path, [{"op": "lwrite", "page": 0}])
    with pytest.raises(TraceError, match=":2: lwrite page 0 is not within 0 large-region pages"):
        read_kernel_trace(path)


@pytest.mark.parametrize(
    "mthp", [{"size_kb": 64, "order": 3, "folios": 2}, {"size_kb": 2048, "order": 9, "folios": 1}, 5]
)
def test_a_bad_mthp_header_is_one_line(tmp_path, mthp) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({TRACE_KEY: 1, "pages": 8, "mthp": mthp}) + "\n")
    with pytest.raises(TraceError, match=":1: header mthp must be null or"):
        read_kernel_trace(str(path))


# ---- hibernation actions: the /dev/snapshot session rules ----

BLK_SWAPON = {"op": "swapon", "priority": 5, "blkdev": True, "bad": [], "discard": "none"}
FILE_SWAPON = {"op": "swapon", "priority": 5, "blkdev": False, "bad": [], "discard": "none"}


def test_hibernation_ops_round_trip(tmp_path) -> None:
    actions = [
        BLK_SWAPON,
        {"op": "hib_alloc", "type": 1, "n": 3},
        {"op": "pageout", "start": 0, "n": 2},
        {"op": "hib_alloc", "type": 1, "n": 1},
        {"op": "hib_free"},
        {"op": "hib_alloc", "type": 1, "n": 2},
        {"op": "hib_close"},
        {"op": "swapoff", "type": 1},
    ]
    header = {TRACE_KEY: 1, "pages": 8, "hibernation_share": 0.3}
    write_kernel_trace(tmp_path / "t.jsonl", header, actions)
    read_header, read = read_kernel_trace(str(tmp_path / "t.jsonl"))
    assert read_header == header and read == actions


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ([{"op": "hib_alloc", "type": 0, "n": 1}], "needs a live lane block device"),
        ([FILE_SWAPON, {"op": "hib_alloc", "type": 1, "n": 1}], "needs a live lane block device"),
        ([BLK_SWAPON, {"op": "hib_alloc", "type": 1, "n": 65}], "1..64 slots"),
        ([BLK_SWAPON, {"op": "hib_alloc", "type": 1, "n": 0}], "1..64 slots"),
        ([{"op": "hib_free"}], "hib_free while /dev/snapshot is not open"),
        (
            [BLK_SWAPON, {"op": "hib_alloc", "type": 1, "n": 1}, {"op": "hib_close"}, {"op": "hib_close"}],
            "hib_close while /dev/snapshot is not open",
        ),
        (
            [
                BLK_SWAPON,
                BLK_SWAPON,
                {"op": "hib_alloc", "type": 1, "n": 1},
                {"op": "hib_alloc", "type": 2, "n": 1},
            ],
            "while slots are held on type 1",
        ),
        (
            [
                BLK_SWAPON,
                {"op": "hib_alloc", "type": 1, "n": 1},
                {"op": "hib_free"},
                {"op": "swapoff", "type": 1},
            ],
            "the swap area of the open /dev/snapshot",
        ),
        (
            [BLK_SWAPON, {"op": "hib_alloc", "type": 1, "n": 1}, {"op": "swapoff", "type": 1}],
            "the swap area of the open /dev/snapshot",
        ),
    ],
)
def test_hibernation_session_rules(actions: list[dict], message: str) -> None:
    problem = check_actions(actions, 8)
    assert problem is not None and problem[0] == len(actions) - 1 and message in problem[1]


def test_the_area_may_change_after_a_free_and_swapoff_after_a_close() -> None:
    actions = [
        BLK_SWAPON,
        BLK_SWAPON,
        {"op": "hib_alloc", "type": 1, "n": 4},
        {"op": "hib_free"},
        {"op": "hib_alloc", "type": 2, "n": 4},
        {"op": "swapoff", "type": 1},
        {"op": "hib_close"},
        {"op": "swapoff", "type": 2},
    ]
    assert check_actions(actions, 8) is None


def test_the_first_device_takes_slots_when_it_is_a_block_device(tmp_path) -> None:
    action = {"op": "hib_alloc", "type": 0, "n": 1}
    assert check_actions([action], 8, first_blkdev=True) is None
    path = tmp_path / "t.jsonl"
    header = {TRACE_KEY: 1, "pages": 8, "settings": {"kind": "blkdev"}}
    write_kernel_trace(path, header, [action])
    assert read_kernel_trace(str(path))[1] == [action]
    write_kernel_trace(path, {**header, "settings": {"kind": "file"}}, [action])
    with pytest.raises(TraceError, match=r"t.jsonl:2: hib_alloc needs a live lane block device"):
        read_kernel_trace(str(path))


def test_a_hibernation_record_with_extra_fields_is_one_line(tmp_path, capsys) -> None:
    path = _write(tmp_path, [{"op": "hib_free", "n": 1}])
    assert main(["kernel", "--replay", path]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("t.jsonl:2: hib_free takes no arguments") and "\n" not in err
