"""The swapdiff trace format: a version-stable JSONL record of one run of API calls.

A trace replays without Hypothesis and without swapdiff's world model: it is just the calls.

Format, version 1 (one JSON object per line, UTF-8, ``\\n`` line ends):

Line 1, the header::

    {"swapdiff_trace": 1,
     "geometry": {"cluster_size": 8, "max_swapfiles": 4, ...},
     "impls": {"reference": "reference", "candidate": "optimized"},
     "seed": 42, "profile": "default", "mode": "fast", "level": "allocator",
     "divergence": {"step": 17, "op": "folio_put_swap", "kind": "state"}}

- ``geometry``: an object with integer ``cluster_size`` and ``max_swapfiles`` (the constructor
  keywords of every implementation); other keys (the devices) are informative, since the
  ``swapon`` calls are part of the ops.
- ``impls``: implementation specs as ``--impl`` takes them (``optimized``, ``reference`` or
  ``package.module:Class``).
- ``seed`` (int or null), ``profile`` and ``mode`` (string or null): where the trace came from.
- ``level`` (optional, default ``"allocator"``): the comparison level, ``contract``,
  ``allocator`` or ``accounting`` (entries up to renaming; its digests are contract-level).
- ``same_device`` (optional, default true; accounting level): paired entries on one device.
- ``divergence`` (optional): the first divergence when the trace was written; informative.

Lines 2.., one per op, numbered from 0::

    {"i": 0, "op": "swapon", "args": {"size": 33, "priority": null, "bad": [], ...},
     "result": 0, "digest": "3f2a9c0d11e4b7a8"}

- ``op``: an API method name of `reference.api.SwapImpl` that has an op code.
- ``args``: the method's keyword arguments; an entry is ``[type, offset]`` and ``bad`` a list.
- ``result`` (optional): the REFERENCE implementation's result: an int, a bool, null,
  ``[type, offset]`` for an entry, or ``{"error": "<contract code>"}`` when the call raised
  `SwapContractError`.
- ``digest`` (optional): the reference's ``snapshot(level).digest()`` after the op.

Readers reject anything else (unknown keys, wrong types, a gap in ``i``) with `TraceError`
naming the line.  Writers never leave a half-written file (temp file + ``os.replace``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference.api import (
    CONTRACT_CODE_INDEX,
    OPS_BY_NAME,
    SNAPSHOT_LEVELS,
    Call,
    Entry,
    SwapImpl,
    contract_code_of_result,
    contract_error_result,
    decode_result,
    encode_result,
)

FORMAT_VERSION = 1
HEADER_KEYS = (
    "swapdiff_trace",
    "geometry",
    "impls",
    "seed",
    "profile",
    "mode",
    "level",
    "same_device",
    "divergence",
)
# The comparison levels a trace may name: the snapshot levels, and "accounting" (entries
# compared up to renaming, fuzz/accounting.py), whose digests are contract-level ones.
TRACE_LEVELS = (*SNAPSHOT_LEVELS, "accounting")
REQUIRED_HEADER_KEYS = ("swapdiff_trace", "geometry", "impls", "seed", "profile", "mode")
STEP_KEYS = ("i", "op", "args", "result", "digest")
DEFAULT_IMPLS = {"reference": "reference", "candidate": "optimized"}
_DIGEST = re.compile(r"^[0-9a-f]{8,64}$")


class TraceError(ValueError):
    """A trace file is malformed; the message is one line naming the file and line."""


@dataclass
class TraceStep:
    """One op of a trace: the call, the reference's encoded result and state digest after it."""

    call: Call
    result: int | None = None
    digest: str | None = None


@dataclass
class Trace:
    """A whole trace: where it came from (the header) and its ops."""

    geometry: dict[str, Any]
    steps: list[TraceStep] = field(default_factory=list)
    impls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IMPLS))
    seed: int | None = None
    profile: str | None = None
    mode: str | None = None
    level: str = "allocator"
    divergence: dict[str, Any] | None = None
    # Accounting level only: paired entries must lie on the same device (`--same-device`).
    same_device: bool = True

    @property
    def calls(self) -> list[Call]:
        return [step.call for step in self.steps]

    @property
    def cluster_size(self) -> int:
        return int(self.geometry["cluster_size"])

    @property
    def max_swapfiles(self) -> int:
        return int(self.geometry["max_swapfiles"])

    def header(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "swapdiff_trace": FORMAT_VERSION,
            "geometry": self.geometry,
            "impls": self.impls,
            "seed": self.seed,
            "profile": self.profile,
            "mode": self.mode,
            "level": self.level,
        }
        if not self.same_device:
            head["same_device"] = False
        if self.divergence is not None:
            head["divergence"] = self.divergence
        return head


# --------------------------------------------------------------------------------------------
# Values <-> JSON
# --------------------------------------------------------------------------------------------


def _signatures() -> dict[str, dict[str, bool]]:
    """Per op: parameter name -> required?  Taken from the contract so it cannot drift."""
    out = {}
    for name in OPS_BY_NAME:
        params = list(inspect.signature(getattr(SwapImpl, name)).parameters.values())[1:]
        out[name] = {p.name: p.default is inspect.Parameter.empty for p in params}
    return out


SIGNATURES = _signatures()


def args_to_json(call: Call) -> dict[str, Any]:
    """A call's keyword arguments as JSON values (entries and tuples become lists)."""
    out: dict[str, Any] = {}
    for key, value in call.kwargs.items():
        if isinstance(value, Entry):
            out[key] = [int(value.type), int(value.offset)]
        elif isinstance(value, (tuple, list)):
            out[key] = list(value)
        else:
            out[key] = value
    return out


def result_to_json(name: str, encoded: int) -> Any:
    """An encoded result in its readable JSON form (see the module docstring)."""
    code = contract_code_of_result(encoded)
    if code is not None:
        return {"error": code}
    value = decode_result(name, encoded)
    if isinstance(value, Entry):
        return [value.type, value.offset]
    return value


def step_to_json(index: int, step: TraceStep) -> dict[str, Any]:
    line: dict[str, Any] = {"i": index, "op": step.call.name, "args": args_to_json(step.call)}
    if step.result is not None:
        line["result"] = result_to_json(step.call.name, step.result)
    if step.digest is not None:
        line["digest"] = step.digest
    return line


def dumps_trace(trace: Trace) -> str:
    """The trace as JSONL text (deterministic: no timestamps, insertion-ordered keys)."""
    lines = [json.dumps(trace.header())]
    lines.extend(json.dumps(step_to_json(i, step)) for i, step in enumerate(trace.steps))
    return "\n".join(lines) + "\n"


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and `os.replace`."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_trace(path: str | os.PathLike, trace: Trace) -> None:
    """Write a trace atomically."""
    atomic_write_text(path, dumps_trace(trace))


# --------------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------------


def read_trace(path: str | os.PathLike) -> Trace:
    """Read and validate a trace file; raises `TraceError` with a one-line message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TraceError(f"{path}: cannot read trace: {_oneline(err)}") from None
    return loads_trace(text, source=str(path))


def loads_trace(text: str, *, source: str = "<trace>") -> Trace:
    """Parse and validate JSONL trace text."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise TraceError(f"{source}: empty file, expected a swapdiff trace header on line 1")
    trace = _parse_header(_json_line(lines[0], 1, source), source)
    for number, raw in enumerate(lines[1:], start=2):
        trace.steps.append(_parse_step(_json_line(raw, number, source), number, len(trace.steps), source))
    return trace


def _oneline(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _json_line(raw: str, number: int, source: str) -> dict[str, Any]:
    where = f"{source}:{number}"
    if not raw.strip():
        raise TraceError(f"{where}: blank line")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise TraceError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(value, dict):
        raise TraceError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(head: dict[str, Any], source: str) -> Trace:
    where = f"{source}:1"
    if "swapdiff_trace" not in head:
        raise TraceError(f"{where}: not a swapdiff trace (the header has no 'swapdiff_trace' key)")
    if head["swapdiff_trace"] != FORMAT_VERSION:
        raise TraceError(f"{where}: unsupported trace format version {head['swapdiff_trace']!r}")
    _check_keys(head, HEADER_KEYS, REQUIRED_HEADER_KEYS, where, "header")
    geometry = head["geometry"]
    if not isinstance(geometry, dict):
        raise TraceError(f"{where}: 'geometry' must be an object")
    for key in ("cluster_size", "max_swapfiles"):
        if not _is_int(geometry.get(key)) or geometry[key] < 1:
            raise TraceError(f"{where}: geometry.{key} must be a positive integer")
    impls = head["impls"]
    if not (isinstance(impls, dict) and all(isinstance(v, str) for v in impls.values())):
        raise TraceError(f"{where}: 'impls' must be an object of strings")
    unknown = set(impls) - {"reference", "candidate"}
    if unknown:
        raise TraceError(f"{where}: unknown impls key {sorted(unknown)[0]!r}")
    if head["seed"] is not None and not _is_int(head["seed"]):
        raise TraceError(f"{where}: 'seed' must be an integer or null")
    for key in ("profile", "mode"):
        if head[key] is not None and not isinstance(head[key], str):
            raise TraceError(f"{where}: {key!r} must be a string or null")
    level = head.get("level", "allocator")
    if level not in TRACE_LEVELS:
        raise TraceError(f"{where}: 'level' must be one of {', '.join(TRACE_LEVELS)}")
    same_device = head.get("same_device", True)
    if not isinstance(same_device, bool):
        raise TraceError(f"{where}: 'same_device' must be true or false")
    divergence = head.get("divergence")
    if divergence is not None and not isinstance(divergence, dict):
        raise TraceError(f"{where}: 'divergence' must be an object or null")
    return Trace(
        geometry=geometry,
        impls=dict(impls),
        seed=head["seed"],
        profile=head["profile"],
        mode=head["mode"],
        level=level,
        divergence=divergence,
        same_device=same_device,
    )


def _check_keys(obj: dict, allowed: Iterable[str], required: Iterable[str], where: str, what: str) -> None:
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            raise TraceError(f"{where}: unknown {what} key {key!r}")
    for key in required:
        if key not in obj:
            raise TraceError(f"{where}: {what} is missing {key!r}")


def _parse_step(line: dict[str, Any], number: int, index: int, source: str) -> TraceStep:
    where = f"{source}:{number}"
    _check_keys(line, STEP_KEYS, ("i", "op", "args"), where, "op line")
    if line["i"] != index or not _is_int(line["i"]):
        raise TraceError(f'{where}: expected "i": {index}, got {line["i"]!r}')
    name = line["op"]
    if not isinstance(name, str) or name not in SIGNATURES:
        raise TraceError(f"{where}: unknown op {name!r}")
    call = Call(name, _parse_args(name, line["args"], where))
    result = _parse_result(name, line["result"], where) if "result" in line else None
    digest = line.get("digest")
    if digest is not None and not (isinstance(digest, str) and _DIGEST.match(digest)):
        raise TraceError(f"{where}: 'digest' must be a hex string")
    return TraceStep(call, result, digest)


def _parse_args(name: str, args: Any, where: str) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise TraceError(f"{where}: 'args' of {name} must be an object")
    params = SIGNATURES[name]
    for key in args:
        if key not in params:
            raise TraceError(f"{where}: {name} has no argument {key!r}")
    for key, required in params.items():
        if required and key not in args:
            raise TraceError(f"{where}: {name} is missing argument {key!r}")
    kwargs: dict[str, Any] = {}
    for key, value in args.items():
        if key == "entry":
            if not (isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)):
                raise TraceError(f"{where}: {name} 'entry' must be [type, offset] integers")
            kwargs[key] = Entry(value[0], value[1])
        elif key == "bad":
            if not (isinstance(value, list) and all(_is_int(v) for v in value)):
                raise TraceError(f"{where}: {name} 'bad' must be a list of integers")
            kwargs[key] = tuple(value)
        elif isinstance(value, (list, dict)):
            raise TraceError(f"{where}: {name} argument {key!r} must be a scalar")
        else:
            kwargs[key] = value
    return kwargs


def _parse_result(name: str, value: Any, where: str) -> int:
    if isinstance(value, dict):
        code = value.get("error") if list(value) == ["error"] else None
        if code not in CONTRACT_CODE_INDEX:
            raise TraceError(f'{where}: result object must be {{"error": <contract code>}}, got {value!r}')
        return contract_error_result(code)
    kind = OPS_BY_NAME[name].result
    if kind == "entry":
        if value is None:
            return 0
        if isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value):
            return encode_result(name, Entry(value[0], value[1]))
        raise TraceError(f"{where}: result of {name} must be null or [type, offset]")
    if kind == "bool":
        if not isinstance(value, bool):
            raise TraceError(f"{where}: result of {name} must be true or false")
        return int(value)
    if not _is_int(value):
        raise TraceError(f"{where}: result of {name} must be an integer")
    return value
