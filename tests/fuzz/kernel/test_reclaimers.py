"""DAMON pageout schemes are paused for a lane run and restored, on a fake sysfs tree and on
the host (the session fixture in conftest.py asserts the host's schemes are as they were)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.kernel import reclaimers
from fuzz.kernel.device import KernelHost, KernelUnavailable

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def _kdamond(admin: Path, k: int, state: str, actions: list[str]) -> Path:
    kd = admin / str(k)
    kd.mkdir(parents=True)
    (kd / "state").write_text(state + "\n")
    for s, action in enumerate(actions):
        scheme = kd / "contexts" / "0" / "schemes" / str(s)
        scheme.mkdir(parents=True)
        (scheme / "action").write_text(action + "\n")
    return kd


def test_pause_turns_running_pageout_schemes_into_stat_and_restore_puts_them_back(tmp_path) -> None:
    kd0 = _kdamond(tmp_path, 0, "on", ["pageout", "lru_prio"])
    kd1 = _kdamond(tmp_path, 1, "off", ["pageout"])  # not running: left alone
    paused = reclaimers.pause_damon(tmp_path)
    action0 = kd0 / "contexts/0/schemes/0/action"
    assert [p.action for p in paused] == [action0]
    assert action0.read_text() == "stat"
    assert (kd0 / "contexts/0/schemes/1/action").read_text().strip() == "lru_prio"
    assert (kd0 / "state").read_text() == "commit"  # applied without a restart
    assert (kd1 / "contexts/0/schemes/0/action").read_text().strip() == "pageout"
    assert (kd1 / "state").read_text().strip() == "off"
    assert reclaimers.pageout_schemes(tmp_path) == []
    assert reclaimers.restore_damon(paused) == []
    assert action0.read_text() == "pageout"
    assert (kd0 / "state").read_text() == "commit"


def test_restore_reports_each_failure_and_goes_on(tmp_path) -> None:
    kd = _kdamond(tmp_path, 0, "on", ["pageout", "pageout"])
    paused = reclaimers.pause_damon(tmp_path)
    (kd / "contexts/0/schemes/0/action").unlink()
    (kd / "contexts/0/schemes/0").rmdir()
    errors = reclaimers.restore_damon(paused)
    assert len(errors) == 1 and "schemes/0/action" in errors[0]
    assert (kd / "contexts/0/schemes/1/action").read_text() == "pageout"


def test_no_damon_means_nothing_paused(tmp_path) -> None:
    assert reclaimers.pause_damon(tmp_path / "absent") == []
    assert reclaimers.describe(tmp_path / "absent", tmp_path / "enabled") == {
        "damon_pageout_schemes": [],
        "damon_reclaim": False,
    }


def test_host_run_has_no_pageout_scheme_running_and_restores_them(kernel_host_ok) -> None:
    before = reclaimers.describe()
    with KernelHost() as host:
        assert reclaimers.describe() == {"damon_pageout_schemes": [], "damon_reclaim": False}
        assert len(host.paused_damon) == len(before["damon_pageout_schemes"])
    assert reclaimers.describe() == before


def test_unpausable_scheme_is_a_one_line_unavailable(tmp_path, monkeypatch, kernel_host_ok) -> None:
    def refuse(admin: Path = tmp_path) -> list[reclaimers.PausedScheme]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(reclaimers, "pause_damon", refuse)
    unpausable = "DAMON pageout scheme is active and cannot be paused"
    with pytest.raises(KernelUnavailable, match=unpausable), KernelHost():
        pass
