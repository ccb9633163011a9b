"""The library's public surface: `fuzz.__all__`, the layering of the package, and the
documented "use the machine in your own pytest suite" example (docs/harness.md), run as a user would."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import fuzz

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"library": 0, "modes": 1, "cli": 2}


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "fuzz" or len(parts) < 2:
        return 0
    if parts[1] in ("cli", "kernel", "mutants"):  # the application and its subcommands
        return LAYERS["cli"]
    return LAYERS["modes"] if parts[1] == "modes" else LAYERS["library"]


def test_every_public_name_resolves():
    for name in fuzz.__all__:
        assert getattr(fuzz, name) is not None, name


def test_a_layer_imports_only_from_the_layers_before_it():
    wrong = []
    for path in sorted((ROOT / "fuzz").rglob("*.py")):
        if path.name == "__init__.py" and path.parent.name == "fuzz":
            continue  # the public surface re-exports the modes
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            wrong += [f"{module} -> {t}" for t in targets if _layer(t) > _layer(module)]
    assert wrong == []


def _documented_example() -> str:
    page = (ROOT / "docs" / "harness.md").read_text()
    section = page.split("## Use the machine in your own pytest suite", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _pytest(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_my_allocator.py").write_text(source)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_allocator.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_documented_example_passes_for_a_correct_candidate(tmp_path):
    proc = _pytest(tmp_path, _documented_example())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_the_documented_example_fails_for_a_buggy_candidate(tmp_path):
    # A count that reads one too high once an entry is shared: fork sharing finds it.
    bug = """
    def swap_count(self, entry):
        count = super().swap_count(entry)
        return count + 1 if count >= 2 else count
"""
    source = _documented_example().replace(
        '    """The candidate: override the calls your change touches."""\n',
        '    """The candidate: override the calls your change touches."""\n' + bug,
    )
    assert bug in source
    # Only finding is under test here; Hypothesis' shrinking of it would take minutes.
    source += (
        "TestMyAllocator.settings = settings(\n"
        "    TestMyAllocator.settings, phases=['generate'], derandomize=True\n"
        ")\n"
    )
    proc = _pytest(tmp_path, source)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Divergence" in proc.stdout and "swap_count" in proc.stdout
