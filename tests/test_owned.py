"""tests/owned.py: a skipped or unreported owned test fails the session where the host can run it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]

CONFTEST = """
from tests.owned import OwnedTests

def pytest_configure(config):
    config.pluginmanager.register(OwnedTests({{"kernel": lambda: {why_not!r}}}), "owned")

import pytest

@pytest.fixture
def kernel_host_ok():
    yield
"""

TESTS = """
import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]

def test_runs(kernel_host_ok):
    pass

def test_skips(kernel_host_ok):
    {body}
"""


@pytest.fixture(autouse=True)
def _checkout_importable(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


def _session(pytester: pytest.Pytester, why_not: str | None, body: str, *args: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST.format(why_not=why_not))
    pytester.makepyfile(test_lane=TESTS.format(body=body))
    pytester.makeini("[pytest]\nmarkers =\n    kernel: owns the host's swap\n")
    # xdist needs a subprocess; a plain session runs in process (faster).
    run = pytester.runpytest_subprocess if "-n" in args else pytester.runpytest_inprocess
    return run("-p", "xdist", *args)


@pytest.mark.parametrize("args", [(), ("-n", "2", "--dist", "loadgroup")])
def test_a_skipped_owned_test_fails_the_session_where_the_host_can_run_it(pytester, args) -> None:
    result = _session(pytester, None, "pytest.skip('other swap devices are active')", *args)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*owned tests not exercised*1 'kernel' tests skipped where they can run*"])


def test_skips_are_fine_where_the_host_cannot_run_them(pytester) -> None:
    result = _session(pytester, "the kernel lane needs root", "pytest.skip('needs root')")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK


def test_all_owned_tests_run_is_a_pass(pytester) -> None:
    result = _session(pytester, None, "pass")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK


def test_a_host_test_without_the_static_group_is_refused(pytester) -> None:
    pytester.makeconftest(CONFTEST.format(why_not=None))
    pytester.makepyfile(test_lane="def test_unmarked(kernel_host_ok):\n    pass\n")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*takes the host's swap (kernel_host_ok) but its module lacks*"])


def test_collect_only_is_not_a_run(pytester) -> None:
    result = _session(pytester, None, "pass", "--collect-only")
    assert result.ret == pytest.ExitCode.OK


def test_a_group_split_across_workers_fails_the_session(pytester) -> None:
    pytester.makeconftest(CONFTEST.format(why_not=None))
    pytester.makepyfile(
        test_lane="""
import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]

@pytest.mark.parametrize("i", range(6))
def test_owns(kernel_host_ok, i):
    pass
"""
    )
    pytester.makeini("[pytest]\nmarkers =\n    kernel: owns the host's swap\n")
    # --dist load ignores groups, as loadgroup did under pytest 9.2 with pytest-xdist 3.8.
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "--dist", "load")
    result.assert_outcomes(passed=6)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*'kernel' tests ran on workers *gw0*gw1*: their xdist group was not*"])
