"""`swapdiff kernel` and kernel versions: the rule set is the running kernel's or named."""

from __future__ import annotations

import pytest

from fuzz.cli import main
from fuzz.cli.args import UsageError
from fuzz.kernel import cli


def test_the_running_release_picks_its_rule_set() -> None:
    assert cli.semantics_for("6.18.44-fc-v1098", None) == "6.18"
    assert cli.semantics_for("6.18", None) == "6.18"
    assert cli.semantics_for("7.2.13+deb14-amd64", None) == "7.2"
    assert cli.semantics_for("7.3.4", None) == "7.3"
    assert cli.semantics_for("7.3.4", "7.2") == "7.2"  # an explicit choice wins


def test_an_unvalidated_release_needs_an_explicit_rule_set() -> None:
    with pytest.raises(
        UsageError, match=r"for Linux 6\.18, 7\.2, 7\.3 only \(this is 7\.0\.2\); pass --semantics 6\.18"
    ):
        cli.semantics_for("7.0.2", None)
    with pytest.raises(UsageError, match=r"pass --semantics 7\.3 "):
        cli.semantics_for("7.4.1", None)
    with pytest.raises(UsageError):
        cli.semantics_for("6.180.1", None)  # a prefix is not a version
    with pytest.raises(UsageError):
        cli.semantics_for("7.30.1", None)
    assert cli.semantics_for("7.0.2", "6.18") == "6.18"


def test_cli_on_an_unvalidated_kernel_exits_2_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli.platform, "release", lambda: "7.1.0-rc1")
    assert main(["kernel", "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "--semantics 6.18" in err and len(err.strip().splitlines()) == 1


def test_unknown_rule_set_is_a_usage_error(capsys) -> None:
    assert main(["kernel", "--semantics", "7.0", "--steps", "5"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mthp", "48K"], "is not an mTHP size"),
        (["--mthp", "big"], "is not an mTHP size"),
        (["--mthp", "2048K"], "no pte-mapped anonymous mTHP size 2048K"),
        (["--mthp", "4096K"], "no pte-mapped anonymous mTHP size 4096K"),
        (["--mthp", "64K", "--large-folios", "65"], "--large-folios is at most 64"),
        (["--mthp", "64K", "--large-folios", "0"], "positive integer"),
    ],
)
def test_bad_mthp_switch_exits_2_with_one_line(argv: list[str], message: str, capsys) -> None:
    assert main(["kernel", "--steps", "5", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_mthp_sizes_parse_as_sysfs_names_them() -> None:
    assert cli.mthp_size("64K") == cli.mthp_size("64kB") == cli.mthp_size("64") == 64


@pytest.mark.parametrize("share", ["-0.1", "1.5", "lots", "nan"])
def test_hibernation_share_must_be_a_fraction(share: str, capsys) -> None:
    assert main(["kernel", "--hibernation-share", share]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a fraction from 0 to 1" in err and "\n" not in err


def test_the_hibernation_summary_counts_slots_or_says_why_the_action_was_absent() -> None:
    ops = {"hib_alloc": 4, "hib_free": 1, "hib_close": 2, "pageout": 9}
    line = cli.hibernation_summary({"taken": 30, "freed": 28, "refused": 1}, "", ops)
    assert line == (
        "hibernation slots: 30 taken, 28 freed, 1 refused (ENOSPC) in 4 hib_alloc, 1 hib_free, 2 hib_close"
    )
    note = "no /dev/snapshot (this kernel has no CONFIG_HIBERNATION)"
    assert cli.hibernation_summary(None, note, ops) == f"hibernation slots: action absent ({note})"


def test_a_vm_run_passes_the_hibernation_share_to_the_guest() -> None:
    args = cli.build_parser().parse_args(["--vm", "k", "--steps", "5", "--hibernation-share", "0.25"])
    argv = cli.lane_argv(args)
    assert argv[argv.index("--hibernation-share") + 1] == "0.25"


@pytest.mark.parametrize("pages", ["0", "100", "511", "768", "131072", "many"])
def test_the_first_device_is_whole_clusters(pages: str, capsys) -> None:
    assert main(["kernel", "--device-pages", pages]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a multiple of 512 from 512 to 65536" in err and "\n" not in err


def test_a_vm_run_passes_the_first_device_size_to_the_guest() -> None:
    args = cli.build_parser().parse_args(["--vm", "k", "--steps", "5", "--device-pages", "1024"])
    argv = cli.lane_argv(args)
    assert argv[argv.index("--device-pages") + 1] == "1024"
    default = cli.lane_argv(cli.build_parser().parse_args(["--vm", "k"]))
    assert default[default.index("--device-pages") + 1] == "4096"


def test_a_replay_runs_with_the_first_device_size_its_trace_was_run_with() -> None:
    assert cli.replay_device_pages("t", {"settings": {"device_pages": 512}}) == 512
    assert cli.replay_device_pages("t", {"pages": 8}) == 4096  # traces from before the option
    with pytest.raises(UsageError, match=r"t: settings\.device_pages: '100' is not a multiple of 512"):
        cli.replay_device_pages("t", {"settings": {"device_pages": 100}})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ballast", "-1"], "non-negative"),
        (["--pages", "600", "--ballast", "500"], "--pages (with --ballast) and --shm-pages are at most 1024"),
        (
            ["--device-pages", "512", "--ballast", "511"],
            "--ballast 511 does not fit the first device (512 pages)",
        ),
    ],
)
def test_a_ballast_must_fit_the_helper_and_the_first_device(argv: list[str], message: str, capsys) -> None:
    assert main(["kernel", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_vm_run_records_into_the_directory_the_guest_shares(tmp_path, capsys) -> None:
    args = cli.build_parser().parse_args(
        ["--vm", "k", "--out", str(tmp_path), "--record", str(tmp_path / "r.jsonl")]
    )
    argv = cli.lane_argv(args)
    assert argv[argv.index("--record") + 1] == str(tmp_path / "r.jsonl")
    assert (
        main(["kernel", "--vm", "k", "--out", str(tmp_path / "o"), "--record", str(tmp_path / "r.jsonl")])
        == 2
    )
    assert "--record in a VM run must be under --out" in capsys.readouterr().err
    assert main(["kernel", "--matrix", "--no-host", "--record", str(tmp_path / "r.jsonl")]) == 2
    assert "--record takes one --vm KERNEL, not --matrix" in capsys.readouterr().err
