"""A corpus of known divergences shared between campaigns (`swapdiff fuzz --corpus DIR`).

One directory, one trace file per divergence signature and content hash,
`<op>-<kind>-<sha256[:12]>.jsonl`, with a sidecar `<same>.json`: the signature, the candidate
and reference specs it was found on, the git commit of the checkout (`git rev-parse HEAD`,
else "unknown") and when.  Both are written to a temporary file and `os.replace`d into place,
so concurrent campaigns on one host never see a partial file, and two campaigns that find the
same trace write the same name.

At campaign start every corpus trace is replayed against the campaign's candidate first: the
report's `corpus` section lists which still diverge and which no longer do.  At the end the
campaign's own traces are added.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from fuzz.trace import atomic_write_text


def git_commit(cwd: str | Path | None = None) -> str:
    """The checkout's commit (`git rev-parse HEAD`), or "unknown"."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else "unknown"


def recheck(directory: str, candidate: str, reference: str) -> dict[str, Any]:
    """Replay every corpus trace against `candidate`: which still diverge, which do not."""
    from fuzz.impls import resolve
    from fuzz.replay import replay_trace
    from fuzz.trace import TraceError, read_trace

    reference_cls, candidate_cls = resolve(reference), resolve(candidate)
    still: list[dict[str, Any]] = []
    fixed: list[str] = []
    unreadable: list[str] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        try:
            trace = read_trace(path)
            outcome = replay_trace(trace, reference_cls, candidate_cls)
        except (TraceError, OSError) as err:
            unreadable.append(f"{path.name}: {' '.join(str(err).split())}")
            continue
        if outcome.divergence is None:
            fixed.append(path.name)
        else:
            op, kind = outcome.divergence.signature
            still.append({"file": path.name, "op": op, "kind": kind, **_sidecar(path)})
    return {
        "dir": str(directory),
        "replayed": len(still) + len(fixed),
        "still_diverging": still,
        "no_longer_diverging": fixed,
        "unreadable": unreadable,
        "added": [],
    }


def _sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: data[k] for k in ("candidate", "commit") if k in data}


def add(directory: str, failures: dict[tuple[str, str], dict[str, Any]], config: Any) -> list[str]:
    """Add the campaign's traces to the corpus; returns the names written."""
    root = Path(directory)
    commit = git_commit(Path(__file__).resolve().parent)
    written = []
    for signature, info in sorted(failures.items()):
        text = Path(info["file"]).read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        name = Path(info["file"]).stem + f"-{digest}"
        if (root / f"{name}.jsonl").exists():
            continue
        meta = {
            "signature": list(signature),
            "candidate": config.impl,
            "reference": config.reference,
            "commit": commit,
            "found": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed": info.get("seed"),
        }
        atomic_write_text(root / f"{name}.json", json.dumps(meta, indent=2) + "\n")
        atomic_write_text(root / f"{name}.jsonl", text)  # the trace last: a listed trace has its sidecar
        written.append(f"{name}.jsonl")
    return written
