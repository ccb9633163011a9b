"""The mutation runner with a fake build and a fake VM (tests/fuzz/kernel/test_mutants.py and the
docs hold the real runs): the stock kernel runs first and must agree, each patch is built while
applied and booted after the tree is restored, outcomes and exit codes, and the tree is as found
after every way a run can end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.kernel import kbuild
from fuzz.kernel.mutation import (
    Candidate,
    Machinery,
    Options,
    classify,
    compile_mutants,
    render,
    run_mutants,
    write_json,
)
from fuzz.kernel.tree import KernelTree, TreeError, parse_patch
from fuzz.kernel.vm import VmRun
from tests.fuzz.kernel.test_tree import HALF, ONE_FILE, fake_tree, snapshot

POWER_PATCH = """\
--- a/kernel/power/swap.c
+++ b/kernel/power/swap.c
@@ -1,4 +1,4 @@
 alpha
-beta
+BETA
 gamma
 delta
"""


def bzimage(release: str) -> bytes:
    """The bytes of an x86 boot header carrying `release` (what vm.image_release reads)."""
    head = bytearray(0x2000)
    head[0x202:0x206] = b"HdrS"
    head[0x20E:0x210] = (0x1000 - 0x200).to_bytes(2, "little")
    head[0x1000 : 0x1000 + len(release) + 1] = release.encode() + b"\0"
    return bytes(head)


class FakeKernel:
    """A build that records which sources it compiled, and a VM whose lane agrees with the stock
    sources and diverges (or does what `behaviour` says) for a patched file."""

    def __init__(self, tree: KernelTree, behaviour: dict[str, VmRun | BaseException] | None = None) -> None:
        self.tree = tree
        self.behaviour = behaviour or {}
        self.builds: list[dict[str, bytes]] = []
        self.boots: list[tuple[str, list[str], str | None]] = []
        self.stock = snapshot(tree.root)

    def build(self, root: Path, jobs: int, log: Path) -> float:
        self.builds.append(snapshot(root))
        image = root / kbuild.IMAGE
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(bzimage("7.3.4"))
        changed = [f for f, data in self.builds[-1].items() if self.stock.get(f, data) != data]
        (root / ".built-from").write_text(",".join(changed))  # what the fake VM boots
        for name, what in self.behaviour.items():
            if name.startswith("build:") and name[6:] in changed and isinstance(what, BaseException):
                raise what
        return 1.0

    def boot(self, kernel, argv: list[str], *, out: Path, setup: str | None = None, **_: object) -> VmRun:
        changed = (self.tree.root / ".built-from").read_text()
        self.boots.append((changed, argv, setup))
        assert kernel.release == "7.3.4"
        # the sources are stock again while the guest runs
        assert {f: d for f, d in snapshot(self.tree.root).items() if f in self.stock} == self.stock
        what = self.behaviour.get(changed)
        if isinstance(what, BaseException):
            raise what
        if what is not None:
            return what
        if not changed:
            return VmRun(0, 5.0, 25.0, out / "console.log", {"steps": 40, "step": None, "detail": None})
        summary = {"steps": 7, "step": 6, "divergence": "step 6 ...", "detail": "SwapFree 10 != 11; Used"}
        return VmRun(1, 5.0, 9.0, out / "console.log", summary)


def setup_tree(tmp_path: Path) -> KernelTree:
    tree = fake_tree(tmp_path / "linux")
    (tree.root / ".config").write_text("".join(f"CONFIG_{o}=y\n" for o in kbuild.REQUIRED))
    return tree


def machinery(fake: FakeKernel) -> Machinery:
    def no_configure(root: Path, log: Path) -> float:
        raise AssertionError("the tree has a .config: nothing to configure")

    return Machinery(configure=no_configure, build=fake.build, boot=fake.boot)


def candidate(name: str, text: str, lane: tuple[str, ...] = ()) -> Candidate:
    return Candidate(name, parse_patch(name, text), lane)


def opts(tmp_path: Path, **kw) -> Options:
    return Options(out=tmp_path / "out", steps=40, **kw)


def sources(tree: KernelTree) -> dict[str, bytes]:
    return {f: d for f, d in snapshot(tree.root).items() if not f.startswith((".", "arch"))}


def test_caught_and_missed_patches_and_the_exit_code(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    stock = sources(tree)
    missed = VmRun(0, 4.0, 30.0, tmp_path / "c", {"steps": 40})
    fake = FakeKernel(tree, {"kernel/power/swap.c": missed})
    cands = [
        candidate("swapfile", ONE_FILE, ("--hibernation-share", "0.25")),
        candidate("power", POWER_PATCH),
    ]
    report = run_mutants(tree, cands, opts(tmp_path, seed=5), machinery(fake), say=lambda s: None)
    assert [(r.name, r.outcome) for r in report.results] == [("swapfile", "caught"), ("power", "missed")]
    caught = report.results[0]
    assert (caught.step, caught.observable, caught.steps, caught.build_s) == (6, "SwapFree 10 != 11", 7, 1.0)
    assert (caught.boot_s, caught.run_s) == (5.0, 4.0)
    assert report.exit == 1 and report.tree_restored
    # each option set has its own stock baseline, with the same seed and budget as the patches
    assert [b.name for b in report.baseline] == ["stock", "stock-1"]
    assert [b[0] for b in fake.boots] == ["", "", "mm/swapfile.c", "kernel/power/swap.c"]
    assert fake.boots[2][1] == [
        "--seed",
        "5",
        "--steps",
        "40",
        "--hibernation-share",
        "0.25",
        "--semantics",
        "7.3",
    ]
    # the stock build, one per patch (with it applied), and the stock again at the end
    assert [b["mm/swapfile.c"] != stock["mm/swapfile.c"] for b in fake.builds] == [False, True, False, False]
    assert sources(tree) == stock
    data = json.loads(write_json(report, tmp_path / "out").read_text())
    assert [r["outcome"] for r in data["results"]] == ["caught", "missed"]
    assert data["release"] == "7.3.4" and data["tree_restored"] is True and data["complete"] is True


def test_the_table_names_each_kernel_and_its_first_divergence(tmp_path: Path, capsys) -> None:
    tree = setup_tree(tmp_path)
    report = run_mutants(
        tree,
        [candidate("swapfile", ONE_FILE)],
        opts(tmp_path),
        machinery(FakeKernel(tree)),
        say=lambda s: None,
    )
    render(report)
    out = capsys.readouterr().out
    assert "Linux 7.3.4, seed 0, 40 steps" in out
    rows = [line for line in out.splitlines() if "stock" in line or "swapfile" in line]
    assert "missed" in rows[0] and "40" in rows[0]
    assert "caught" in rows[1] and "step 6: SwapFree 10 != 11" in rows[1]


def test_all_detected_is_exit_0(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    fake = FakeKernel(tree)
    report = run_mutants(tree, [candidate("swapfile", ONE_FILE)], opts(tmp_path), machinery(fake), say=print)
    assert report.exit == 0 and report.results[0].outcome == "caught"


def test_a_failed_build_restores_the_tree_and_exits_3(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    stock = sources(tree)
    fake = FakeKernel(
        tree, {"build:mm/swapfile.c": kbuild.BuildError("make bzImage failed: mm/swapfile.c:12: error")}
    )
    cands = [candidate("broken", ONE_FILE), candidate("power", POWER_PATCH)]
    report = run_mutants(tree, cands, opts(tmp_path), machinery(fake), say=lambda s: None)
    assert [r.outcome for r in report.results] == ["build failed", "caught"]
    assert "mm/swapfile.c:12: error" in (report.results[0].note or "")
    assert report.exit == 3 and sources(tree) == stock


def test_ctrl_c_while_patched_restores_the_tree(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    stock = sources(tree)
    fake = FakeKernel(tree, {"build:mm/swapfile.c": KeyboardInterrupt()})
    cands = [candidate("power", POWER_PATCH), candidate("m", ONE_FILE)]
    with pytest.raises(KeyboardInterrupt):
        run_mutants(tree, cands, opts(tmp_path), machinery(fake), say=lambda s: None)
    assert sources(tree) == stock
    # what was measured before the interrupt is kept
    data = json.loads((tmp_path / "out" / "mutants.json").read_text())
    assert [r["name"] for r in data["results"]] == ["power"] and data["complete"] is False
    assert len(fake.builds) == 3  # stock, power, the interrupted one: no stock rebuild after Ctrl-C


def test_a_broken_baseline_stops_before_any_patch(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    diverged = VmRun(1, 4.0, 9.0, tmp_path / "c", {"steps": 3, "step": 2, "detail": "Used 3 != 2"})
    fake = FakeKernel(tree, {"": diverged})
    with pytest.raises(TreeError, match=r"stock kernel does not agree.*the baseline is broken") as err:
        run_mutants(tree, [candidate("m", ONE_FILE)], opts(tmp_path), machinery(fake), say=lambda s: None)
    assert err.value.code == 3
    assert len(fake.builds) == 1  # the stock build only: no patch was applied


def test_a_patch_that_does_not_apply_touches_nothing(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    before = snapshot(tree.root)
    fake = FakeKernel(tree)
    with pytest.raises(TreeError, match=r"^half does not apply cleanly") as err:
        run_mutants(
            tree, [candidate("ok", ONE_FILE), candidate("half", HALF)], opts(tmp_path), machinery(fake)
        )
    assert err.value.code == 2 and fake.builds == [] and snapshot(tree.root) == before


def test_a_config_without_what_the_lane_needs_is_refused(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    (tree.root / ".config").write_text("CONFIG_SWAP=y\n# CONFIG_HIBERNATION is not set\n")
    fake = FakeKernel(tree)
    with pytest.raises(TreeError, match=r"lacks CONFIG_HIBERNATION, .*move the \.config away") as err:
        run_mutants(tree, [candidate("m", ONE_FILE)], opts(tmp_path), machinery(fake))
    assert err.value.code == 2 and fake.builds == []


def test_a_tree_without_config_is_configured_first(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    (tree.root / ".config").unlink()
    fake = FakeKernel(tree)
    calls = []

    def configure(root: Path, log: Path) -> float:
        calls.append(root)
        (root / ".config").write_text("".join(f"CONFIG_{o}=y\n" for o in kbuild.REQUIRED))
        return 2.0

    m = Machinery(configure=configure, build=fake.build, boot=fake.boot)
    report = run_mutants(tree, [candidate("m", ONE_FILE)], opts(tmp_path), m, say=lambda s: None)
    assert calls == [tree.root] and report.configure_s == 2.0


def test_a_release_without_rules_needs_semantics(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    (tree.root / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 1\nSUBLEVEL = 0\nEXTRAVERSION =\n")
    tree = KernelTree(tree.root)
    fake = FakeKernel(tree)
    with pytest.raises(Exception, match=r"no rule set for Linux 7\.1\.0; pass --semantics"):
        run_mutants(tree, [candidate("m", ONE_FILE)], opts(tmp_path), machinery(fake))
    report = run_mutants(
        tree,
        [candidate("m", ONE_FILE)],
        opts(tmp_path, semantics="6.18"),
        machinery(fake),
        say=lambda s: None,
    )
    assert fake.boots[-1][1][-2:] == ["--semantics", "6.18"] and report.semantics == "6.18"


def test_classify_a_guest_that_failed(tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    panicked = VmRun(3, 5.0, 8.0, console, None, "the guest kernel panicked: Kernel panic - not syncing: x")
    assert classify(panicked, tmp_path).outcome == "crashed"
    hung = VmRun(
        3, 5.0, 900.0, console, None, "the lane in the guest did not finish within 900 s of starting"
    )
    assert classify(hung, tmp_path).outcome == "hung"
    never = VmRun(3, None, 600.0, console, None, "the guest did not start the lane within 600 s")
    assert classify(never, tmp_path).outcome == "guest failed"
    # a divergence trace written before a teardown that then hung: caught, with the step
    header = {
        "swapdiff_kernel_trace": 1,
        "pages": 8,
        "seed": 0,
        "divergence": "step 1 {'op': 'hib_free'}: Used 5 != 4; SwapFree",
    }
    actions = [{"i": 0, "op": "read", "page": 1}, {"i": 1, "op": "hib_free"}]
    (tmp_path / "kernel-divergence-seed0.jsonl").write_text(
        "\n".join(json.dumps(x) for x in [header, *actions]) + "\n"
    )
    res = classify(hung, tmp_path)
    assert (res.outcome, res.step, res.observable, res.steps) == ("caught", 1, "Used 5 != 4", 2)
    assert res.note is not None and "did not finish" in res.note


BREAKS = """\
--- a/mm/swapfile.c
+++ b/mm/swapfile.c
@@ -9,7 +9,7 @@
 line 9
 line 10
 line 11
-line 12
+line 12 broken
 line 13
 line 14
 line 15
"""


def test_compile_only_makes_each_patched_object_with_real_make(tmp_path: Path) -> None:
    tree = setup_tree(tmp_path)
    with open(tree.root / "Makefile", "a") as f:  # a compiler that rejects "broken" sources
        f.write("%.o: %.c\n")
        f.write('\t@if grep -q broken $<; then echo "$<:12:1: error: broken" >&2; exit 1; fi; cp $< $@\n')
    stock = sources(tree)
    results = compile_mutants(
        tree, [candidate("ok", ONE_FILE), candidate("bad", BREAKS)], 2, tmp_path / "out", say=lambda s: None
    )
    assert [(r.name, r.outcome) for r in results] == [("ok", "compiles"), ("bad", "build failed")]
    assert "mm/swapfile.c:12:1: error: broken" in (results[1].note or "")
    # the object was compiled from the patched source, and the sources are stock again
    assert "line 12 mutated" in (tree.root / "mm" / "swapfile.o").read_text()
    assert {f: d for f, d in sources(tree).items() if not f.endswith(".o")} == stock
