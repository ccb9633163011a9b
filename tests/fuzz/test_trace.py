"""The JSONL trace format: round trips, strict validation with one-line errors, atomic writes."""

from __future__ import annotations

import json

import pytest

from fuzz.trace import Trace, TraceError, TraceStep, dumps_trace, loads_trace, read_trace, write_trace
from reference.api import Call, Entry, contract_error_result, encode_result

SWAPON = Call(
    "swapon",
    {"size": 17, "priority": None, "bad": (3,), "solidstate": True, "blkdev": True, "discard": "none"},
)


def sample_trace() -> Trace:
    return Trace(
        geometry={"cluster_size": 8, "max_swapfiles": 4, "devices": [{"size": 17}]},
        steps=[
            TraceStep(SWAPON, 0, "0123456789abcdef"),
            TraceStep(Call("folio_new", {"folio": 1, "order": 0}), 0, "0123456789abcdef"),
            TraceStep(Call("folio_alloc_swap", {"folio": 1, "charge_fails": False}), 0),
            TraceStep(Call("folio_entry", {"folio": 1}), encode_result("folio_entry", Entry(0, 1))),
            TraceStep(Call("folio_free_swap", {"folio": 1}), 1),
            TraceStep(Call("swap_count", {"entry": Entry(0, 1)}), contract_error_result("not-swapped")),
            TraceStep(Call("folio_set", {"folio": 1, "locked": None, "writeback": True, "mapped": None})),
        ],
        seed=7,
        profile="default",
        mode="fast",
    )


def test_round_trip_is_exact():
    trace = sample_trace()
    text = dumps_trace(trace)
    again = loads_trace(text)
    assert again.steps == trace.steps
    assert again.header() == trace.header()
    assert dumps_trace(again) == text


def test_lines_are_readable_json():
    lines = dumps_trace(sample_trace()).splitlines()
    header = json.loads(lines[0])
    assert header["swapdiff_trace"] == 1 and header["seed"] == 7
    assert json.loads(lines[4])["result"] == [0, 1]  # an entry result
    assert json.loads(lines[5])["result"] is True  # a bool result
    assert json.loads(lines[6])["result"] == {"error": "not-swapped"}
    assert json.loads(lines[1])["args"]["bad"] == [3]
    assert "result" not in json.loads(lines[7])  # optional fields may be left out


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "t.jsonl"
    write_trace(path, sample_trace())
    write_trace(path, sample_trace())
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]
    assert read_trace(path).steps == sample_trace().steps


def _lines() -> list[str]:
    return dumps_trace(sample_trace()).splitlines()


def sub(line: int, old: str, new: str):
    """An edit of the sample trace: replace `old` by `new` on 1-based line `line`."""

    def edit(lines: list[str]) -> list[str]:
        assert old in lines[line - 1]
        return [*lines[: line - 1], lines[line - 1].replace(old, new), *lines[line:]]

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: [], "empty file"),
        (lambda ls: ["not json", *ls[1:]], ":1: not valid JSON"),
        (lambda ls: ["[1, 2]", *ls[1:]], ":1: expected a JSON object"),
        (lambda ls: ['{"hello": 1}', *ls[1:]], "not a swapdiff trace"),
        (sub(1, '"swapdiff_trace": 1', '"swapdiff_trace": 9'), "version 9"),
        (sub(1, '"seed": 7', '"seed": "x"'), "'seed' must be"),
        (sub(1, '"cluster_size": 8', '"cluster_size": -8'), "cluster_size"),
        (sub(1, '"mode"', '"moed"'), "unknown header key 'moed'"),
        (lambda ls: [ls[0], ls[2], *ls[3:]], ':2: expected "i": 0'),
        (sub(4, "folio_alloc_swap", "folio_explode"), ":4: unknown op"),
        (sub(3, '"order": 0', '"colour": 0'), ":3: folio_new has no argument"),
        (sub(3, ', "order": 0', ""), "missing argument 'order'"),
        (sub(7, "[0, 1]", "[0]"), ":7: swap_count 'entry' must be"),
        (sub(6, "true", "3"), ":6: result of folio_free_swap must be"),
        (sub(7, "not-swapped", "on-fire"), ":7: result object must be"),
        (sub(5, "[0, 1]", '"zero"'), ":5: result of folio_entry"),
        (sub(3, '"digest": "0123456789abcdef"', '"digest": "xyz"'), ":3: 'digest' must be"),
        (lambda ls: [*ls[:3], "", *ls[3:]], ":4: blank line"),
    ],
)
def test_malformed_traces_raise_one_line_errors(tmp_path, edit, message):
    path = tmp_path / "bad.jsonl"
    lines = edit(_lines())
    path.write_text("\n".join(lines) + "\n" if lines else "")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert text.startswith(str(path))


def test_unreadable_file_is_a_trace_error(tmp_path):
    with pytest.raises(TraceError, match="cannot read trace"):
        read_trace(tmp_path / "missing.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TraceError, match="cannot read trace"):
        read_trace(tmp_path / "bin.jsonl")
