"""Shipping the candidate to a Dask cluster, so `--impl mymod:Class --scheduler ADDR` works when
`mymod` is importable on the client only.

Before the first round every implementation spec of the campaign (the candidate and the
reference) is resolved on every Dask worker (`Client.run`), which reports the SHA-256 of the
file the class's module came from.  Where a worker cannot import it, or imports another copy
than the client's, the client sends its own with Dask's `UploadFile` worker plugin: a
top-level module as its `.py` file, a module inside a package as that top-level package
zipped (the `.zip` goes on the worker's `sys.path`).  The plugin stays registered with the
scheduler, so a worker that joins later gets the module too.  Then the specs are resolved
again, afresh; a worker that still cannot import one (a compiled extension, a dependency only
the client has) or still imports another copy refuses the campaign with one line (exit 2)
before any round runs.  swapdiff's own packages are never shipped: every worker needs the same
swapdiff checkout, and a worker whose copy differs is refused the same way.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fuzz.cli.campaign import CampaignError
from fuzz.impls import BUILTIN_SPECS, ImplError, resolve

# Packages every worker must already have (the swapdiff checkout itself).
OWN_PACKAGES = frozenset({"reference", "optimized", "fuzz"})
PLUGIN_PREFIX = "swapdiff-candidate-"


def probe(spec: str, fresh: tuple[str, ...] = ()) -> dict[str, str]:
    """On a worker: resolve `spec` and report its module file's digest, or the one-line error.

    The modules of the top-level packages in `fresh` are dropped from `sys.modules` first, so
    a module just shipped is imported from the shipped copy."""
    for name in list(sys.modules):
        if name.partition(".")[0] in fresh:
            del sys.modules[name]
    importlib.invalidate_caches()
    try:
        cls = resolve(spec)
    except ImplError as err:
        return {"error": str(err)}
    module = sys.modules[cls.__module__]
    return {"digest": module_digest(cls.__module__), "file": str(getattr(module, "__file__", ""))}


def module_digest(name: str) -> str:
    """The SHA-256 of the file module `name` was loaded from ('' for one without a file)."""
    module = sys.modules[name]
    path = getattr(module, "__file__", None)
    get_data = getattr(getattr(module, "__loader__", None), "get_data", None)
    if not path or get_data is None:
        return ""
    return hashlib.sha256(get_data(path)).hexdigest()


def ship_candidates(client: Any, specs: dict[str, str]) -> None:
    """Make every spec (by option: `{"--impl": spec, ...}`) importable, as the client's copy, on
    every worker of `client`, or raise a one-line `CampaignError`."""
    for option, spec in specs.items():
        if spec not in BUILTIN_SPECS:
            _ship_one(client, option, spec)


def _ship_one(client: Any, option: str, spec: str) -> None:
    cls = resolve(spec)  # the client's copy (from_args resolved it already: cached)
    module = cls.__module__
    top = module.partition(".")[0]
    want = module_digest(module)
    found = _probe_all(client, spec)
    if all(row.get("digest") == want for row in found.values()) and (found or top in OWN_PACKAGES):
        return  # every worker already has the client's copy (none yet: they get a shipped one)
    label = f"{option} {spec!r}"
    if top in OWN_PACKAGES:
        _refuse(label, found, want, "run the same swapdiff checkout on every worker")
    name = PLUGIN_PREFIX + top
    try:
        plugin = _upload_plugin(top)
    except _NotShippable as why:
        _refuse(label, found, want, f"{why}: install it on every worker")
    failure = None
    try:
        client.register_plugin(plugin, name=name)
    except Exception as err:  # the module failed to import on a worker; the probe below names it
        failure = _oneline(err)
    found = _probe_all(client, spec, (top,))
    if failure or not all(row.get("digest") == want for row in found.values()):
        client.unregister_worker_plugin(name)
        _refuse(label, found, want, "shipped it, but install what it needs on every worker", failure)


def _probe_all(client: Any, spec: str, fresh: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    """`probe` on every worker, by address; one line if a worker cannot even run it."""
    try:
        return client.run(probe, spec, fresh)
    except Exception as err:  # e.g. a worker without this swapdiff cannot unpickle `probe`
        raise CampaignError(
            f"cannot check {spec!r} on the Dask workers (do they run this swapdiff checkout?): "
            f"{_oneline(err)}"
        ) from None


class _NotShippable(Exception):
    """The candidate's module is not plain Python files the client can send."""


def _upload_plugin(top: str) -> Any:
    """Dask's `UploadFile` plugin carrying the client's copy of top-level module or package `top`."""
    from distributed.diagnostics.plugin import UploadFile

    module = sys.modules[top]
    path = getattr(module, "__file__", None)
    if path is None or not os.path.isfile(path):
        raise _NotShippable(f"{top!r} is not a module file or a package directory on the client")
    if not hasattr(module, "__path__"):  # a top-level module
        if not path.endswith(".py"):
            raise _NotShippable(f"{top!r} is a compiled module ({Path(path).name})")
        return UploadFile(path)
    package = Path(path).parent
    with tempfile.TemporaryDirectory(prefix="swapdiff-ship-") as tmp:
        archive = Path(tmp) / f"{top}.zip"
        _zip_package(package, archive)
        # The name carries the content: a worker keeps a zip on sys.path once it has one.
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
        named = archive.rename(Path(tmp) / f"{top}-{digest}.zip")
        return UploadFile(str(named))


def _zip_package(package: Path, archive: Path) -> None:
    """Zip `package` under its own name, without bytecode caches, in a stable order."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(package.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            out.write(path, Path(package.name) / path.relative_to(package))


def _refuse(
    label: str, found: dict[str, dict[str, str]], want: str, advice: str, failure: str | None = None
) -> None:
    """Raise the one-line refusal naming the first worker that lacks the client's copy."""
    for worker, row in sorted(found.items()):
        if "error" in row:
            raise CampaignError(
                f"{label} cannot be imported on Dask worker {worker} ({advice}): {row['error']}"
            )
        if row.get("digest") != want:
            raise CampaignError(
                f"{label}: Dask worker {worker} imports another copy ({row.get('file')}) than the client "
                f"({advice})"
            )
    raise CampaignError(f"{label} cannot be sent to the Dask workers ({advice}): {failure}")


def _oneline(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
