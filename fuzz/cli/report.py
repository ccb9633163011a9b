"""The campaign report: `report.json` (machine-readable) and `report.png` (two plots).

report.json, version 1::

    {"swapdiff_report": 1,
     "config": {...the campaign options...},
     "totals": {"seconds", "steps", "ops", "steps_per_second", "rounds": {"fast": n, ...},
                "labelled_ops", "label_sampling", "divergences", "divergence_hits",
                "hangs", "interrupted", "errors"},
     "labels": {label: count},          # every ALLOCATOR_LABEL and RARE_LABEL, 0 if never hit
     "rare_labels": {label: count},     # the RARE_LABELS (fuzz.events) alone, in their order
     "labels_never_reached": [label],   # ALLOCATOR_LABELS and RARE_LABELS with count 0
     "rules": {world action: count},
     "throughput": [[seconds, steps, steps_per_second_since_previous_sample], ...],
     "features": {"guided": bool,          # fast rounds grew a corpus (fuzz.corpus)
                  "features": n, "pairs": n,   # distinct state features / pairs (fuzz.features)
                  "rounds": {kind: n},      # fast rounds: fresh, extend, splice, ..., unguided
                  "kept": n,                # rounds whose prefix went into a corpus
                  "over_time": [[seconds, steps, features, pairs], ...]},
     "divergences": [{"file", "op", "kind", "ops", "worker", "seed", "hits",
                      "first_seen_seconds"}, ...],   # kind "hang": a candidate call hung
                                                      # (file and ops null if no trace)
     "errors": ["worker 0: ...", ...],
     "distributed": {"scheduler", "dask_workers",       # only for --scheduler campaigns
                     "per_worker": {address: {"rounds", "steps", "busy_seconds",
                                              "steps_per_second"}},
                     "scaling": [[seconds, dask_workers, steps_per_second_since_previous], ...]},
     "corpus": {"dir", "replayed", "still_diverging": [{"file", "op", "kind", "candidate",
                "commit"}], "no_longer_diverging": [file], "unreadable": [...], "added": [file]}}

report.png: label coverage (horizontal bars, labels never hit in red), throughput over time,
and the state features and pairs reached over time.  Written with matplotlib's Agg backend,
atomically like everything swapdiff writes.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from fuzz.trace import atomic_write_bytes, atomic_write_text

REPORT_VERSION = 1


def allocator_labels() -> tuple[str, ...]:
    try:
        from fuzz.events import ALLOCATOR_LABELS
    except ImportError:
        return ()
    return tuple(ALLOCATOR_LABELS)


def rare_labels() -> tuple[str, ...]:
    try:
        from fuzz.events import RARE_LABELS
    except ImportError:
        return ()
    return tuple(RARE_LABELS)


def wanted_labels() -> tuple[str, ...]:
    """Every label a campaign is expected to reach: the allocator's, then the rare states'."""
    return allocator_labels() + rare_labels()


def labels_hit(labels: Counter[str]) -> tuple[int, int]:
    """(labels of ALLOCATOR_LABELS and RARE_LABELS hit at least once, how many there are)."""
    wanted = wanted_labels()
    return sum(1 for name in wanted if labels.get(name, 0) > 0), len(wanted)


def throughput_rows(samples: list[tuple[float, int]]) -> list[list[float]]:
    rows: list[list[float]] = []
    prev_t, prev_s = 0.0, 0
    for t, steps in samples:
        dt = t - prev_t
        if dt <= 0:  # a repeated sample (the final one, say) adds no interval, only its count
            if rows:
                rows[-1][1] = steps
            continue
        rows.append([round(t, 3), steps, round((steps - prev_s) / dt, 1)])
        prev_t, prev_s = t, steps
    return rows


def build_report(state: Any) -> dict[str, Any]:
    seconds = state.elapsed()
    labels = {name: 0 for name in wanted_labels()}
    labels.update(state.labels)
    return {
        "swapdiff_report": REPORT_VERSION,
        "config": state.config.to_json(),
        "totals": {
            "seconds": round(seconds, 3),
            "steps": state.steps,
            "ops": state.ops,
            "steps_per_second": round(state.steps / seconds, 1) if seconds > 0 else 0.0,
            "rounds": dict(state.rounds),
            "labelled_ops": state.labelled_ops,
            "label_sampling": round(state.labelled_ops / state.ops, 3) if state.ops else 0.0,
            "divergences": len(state.failures),
            "divergence_hits": sum(info["hits"] for info in state.failures.values()),
            "hangs": sum(info["hits"] for info in state.failures.values() if info["kind"] == "hang"),
            "interrupted": state.interrupted,
            "errors": len(state.errors),
        },
        "labels": dict(sorted(labels.items())),
        "rare_labels": {name: labels[name] for name in rare_labels()},
        "labels_never_reached": [name for name in wanted_labels() if labels[name] == 0],
        "rules": dict(sorted(state.rules.items())),
        "throughput": throughput_rows(state.throughput),
        "features": feature_section(state),
        "divergences": list(state.failures.values()),
        "errors": list(state.errors),
        **({"distributed": state.distributed} if getattr(state, "distributed", None) else {}),
        **({"corpus": state.corpus} if getattr(state, "corpus", None) is not None else {}),
    }


def feature_section(state: Any) -> dict[str, Any]:
    """The report's `features` section: features and pairs reached, and when."""
    over_time: list[list[float]] = []
    for row in getattr(state, "coverage", []):
        if over_time and over_time[-1][0] == row[0]:
            over_time[-1] = list(row)  # a repeated sample (the final one) keeps the latest counts
        else:
            over_time.append(list(row))
    return {
        "guided": state.config.guided,
        "features": len(state.features),
        "pairs": len(state.pairs),
        "rounds": dict(sorted(state.round_kinds.items())),
        "kept": state.kept,
        "over_time": over_time,
    }


def write_report(state: Any) -> dict[str, Any]:
    """Write report.json and report.png into the campaign's --out; returns the JSON data."""
    report = build_report(state)
    out = Path(state.config.out)
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_plot(report, out / "report.png")
    return report


def write_plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = report["labels"]
    wanted = set(wanted_labels())
    names = list(labels)
    fig = Figure(figsize=(12, max(4.0, 0.28 * len(names) + 1.5)))
    grid = fig.add_gridspec(2, 2, width_ratios=[3, 2])
    cover = fig.add_subplot(grid[:, 0])
    speed = fig.add_subplot(grid[0, 1])
    found = fig.add_subplot(grid[1, 1])
    counts = [labels[n] for n in names]
    colors = ["tab:red" if labels[n] == 0 and n in wanted else "tab:blue" for n in names]
    cover.barh(names, [max(c, 0.8) if c == 0 else c for c in counts], color=colors, log=True)
    cover.invert_yaxis()
    cover.set_title(
        f"coverage labels (sampled {report['totals']['label_sampling']:.0%} of ops; red = never hit)"
    )
    cover.tick_params(axis="y", labelsize=7)
    cover.set_xlabel("count (log)")
    rows = report["throughput"]
    speed.plot([r[0] for r in rows], [r[2] for r in rows], marker=".", color="tab:green")
    speed.set_title(f"throughput ({report['totals']['steps_per_second']:,.0f} steps/s overall)")
    speed.set_xlabel("seconds")
    speed.set_ylabel("steps/s")
    speed.grid(alpha=0.3)
    _plot_features(found, report["features"])
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    atomic_write_bytes(path, buffer.getvalue())


def _plot_features(axes: Any, section: dict[str, Any]) -> None:
    rows = section["over_time"]
    seconds = [r[0] for r in rows]
    axes.plot(seconds, [r[3] for r in rows], color="tab:purple", label=f"pairs ({section['pairs']:,})")
    axes.set_ylabel("pairs")
    twin = axes.twinx()
    twin.plot(seconds, [r[2] for r in rows], color="tab:orange", label=f"features ({section['features']:,})")
    twin.set_ylabel("features")
    mode = "guided" if section["guided"] else "unguided"
    axes.set_title(f"state features and pairs reached ({mode})")
    axes.set_xlabel("seconds")
    axes.grid(alpha=0.3)
    handles = axes.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    axes.legend(handles=handles, loc="lower right", fontsize=8)
