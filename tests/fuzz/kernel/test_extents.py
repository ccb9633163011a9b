"""The swsusp extents tree: merges along the search path, red-black shape, root-first frees."""

from __future__ import annotations

import itertools
import random

import pytest

from fuzz.kernel.extents import BLACK, RED, Extent, ExtentTree


def _black_height(node: Extent | None) -> int:
    """Checks the red-black rules below `node` and returns its black height."""
    if node is None:
        return 1
    for child in (node.left, node.right):
        if child is not None:
            assert child.parent is node
            assert not (node.color == RED and child.color == RED), "red node with a red child"
    left, right = _black_height(node.left), _black_height(node.right)
    assert left == right, "unequal black heights"
    return left + (node.color == BLACK)


def _check(tree: ExtentTree) -> None:
    if tree.root is not None:
        assert tree.root.color == BLACK and tree.root.parent is None
    _black_height(tree.root)
    spans = tree.extents()  # in order, disjoint (adjacent ones may stay apart: never coalesced)
    assert all(a <= b for a, b in spans) and all(b < c for (_, b), (c, _) in itertools.pairwise(spans))


def test_adjacent_offsets_extend_the_extent_met_on_the_path() -> None:
    t = ExtentTree()
    for offset in (10, 11, 9, 20, 12):
        t.insert(offset)
    assert t.extents() == [(9, 12), (20, 20)]


def test_two_extents_are_never_coalesced() -> None:
    t = ExtentTree()
    for offset in (1, 2, 4, 5, 3):  # 3 extends the first extent met (the root, [1, 2])
        t.insert(offset)
    assert t.extents() == [(1, 3), (4, 5)]


def test_an_offset_already_held_is_a_caller_bug() -> None:
    t = ExtentTree()
    t.insert(5)
    with pytest.raises(ValueError, match="already recorded"):
        t.insert(5)


def test_frees_take_the_root_extent_first() -> None:
    """Three separate extents inserted in offset order rotate the middle one to the root:
    free_all_swap_pages frees it first, then the successor that replaces it, then the rest."""
    t = ExtentTree()
    for offset in (1, 2, 10, 20, 21):
        t.insert(offset)
    assert t.root is not None and (t.root.start, t.root.end) == (10, 10)
    assert t.pop_all() == [10, 20, 21, 1, 2]
    assert not t


@pytest.mark.parametrize("seed", range(40))
def test_random_inserts_and_root_erases_keep_the_red_black_rules(seed: int) -> None:
    rng = random.Random(seed)
    t = ExtentTree()
    held: set[int] = set()
    for _ in range(rng.randint(1, 150)):
        offset = rng.randrange(1, 300)
        if offset not in held:
            held.add(offset)
            t.insert(offset)
            _check(t)
    assert sorted(o for a, b in t.extents() for o in range(a, b + 1)) == sorted(held)
    freed: list[int] = []
    while t.root is not None:
        root = t.root
        t._erase(root)
        _check(t)
        freed.extend(range(root.start, root.end + 1))
    assert sorted(freed) == sorted(held) and len(freed) == len(held)
