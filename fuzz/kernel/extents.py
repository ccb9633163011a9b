"""The swsusp extents tree: which hibernation slots /dev/snapshot holds, and the order it frees them.

The kernel records each slot SNAPSHOT_ALLOC_SWAP_PAGE takes in a red-black tree of extents
(kernel/power/swap.c, swsusp_extents_insert): walking down from the root, an offset one below
an extent's start or one above its end extends that extent (the first such extent met on the
path; two extents are never coalesced), otherwise it becomes a new node where the walk ends.
free_all_swap_pages (SNAPSHOT_FREE_SWAP_PAGES, and closing the device) repeatedly takes the
ROOT extent, erases it from the tree and frees its slots from start to end.  So the free order
is a function of the tree's shape, which rebalancing decides; it matters to the model because
the order in which clusters empty is the order of the free-cluster list.

The tree follows the kernel's red-black algorithms (lib/rbtree.c): insertion rebalancing by
recolouring and rotations, erase replacing a node that has two children by its in-order
successor, and the standard erase rebalancing.
"""

from __future__ import annotations

from dataclasses import dataclass

RED, BLACK = 0, 1


@dataclass(eq=False)
class Extent:
    start: int
    end: int
    color: int = RED
    parent: Extent | None = None
    left: Extent | None = None
    right: Extent | None = None


def _black(node: Extent | None) -> bool:
    return node is None or node.color == BLACK


class ExtentTree:
    """The extents of one uswsusp session's slots (offsets on its swap area)."""

    def __init__(self) -> None:
        self.root: Extent | None = None

    def __bool__(self) -> bool:
        return self.root is not None

    def extents(self) -> list[tuple[int, int]]:
        """(start, end) of every extent, in offset order."""
        out: list[tuple[int, int]] = []
        stack: list[Extent] = []
        node = self.root
        while stack or node is not None:
            while node is not None:
                stack.append(node)
                node = node.left
            node = stack.pop()
            out.append((node.start, node.end))
            node = node.right
        return out

    def insert(self, offset: int) -> None:
        """Record one slot (swsusp_extents_insert); an offset already held is a caller bug."""
        parent, link = None, "root"
        node = self.root
        while node is not None:
            parent = node
            if offset < node.start:
                if offset == node.start - 1:
                    node.start -= 1
                    return
                node, link = node.left, "left"
            elif offset > node.end:
                if offset == node.end + 1:
                    node.end += 1
                    return
                node, link = node.right, "right"
            else:
                raise ValueError(f"hibernation slot {offset} is already recorded")
        new = Extent(offset, offset, RED, parent)
        if parent is None:
            self.root = new
        else:
            setattr(parent, link, new)
        self._insert_fixup(new)

    def pop_all(self) -> list[int]:
        """free_all_swap_pages: every slot, root extent first, each extent start to end."""
        freed: list[int] = []
        while self.root is not None:
            ext = self.root
            self._erase(ext)
            freed.extend(range(ext.start, ext.end + 1))
        return freed

    # ---- rotations ----
    def _replace_child(self, old: Extent, new: Extent | None, parent: Extent | None) -> None:
        if parent is None:
            self.root = new
        elif parent.left is old:
            parent.left = new
        else:
            parent.right = new

    def _rotate_left(self, x: Extent) -> None:
        y = x.right
        assert y is not None
        x.right = y.left
        if y.left is not None:
            y.left.parent = x
        y.parent = x.parent
        self._replace_child(x, y, x.parent)
        y.left = x
        x.parent = y

    def _rotate_right(self, x: Extent) -> None:
        y = x.left
        assert y is not None
        x.left = y.right
        if y.right is not None:
            y.right.parent = x
        y.parent = x.parent
        self._replace_child(x, y, x.parent)
        y.right = x
        x.parent = y

    # ---- rebalancing ----
    def _insert_fixup(self, node: Extent) -> None:
        while True:
            parent = node.parent
            if parent is None:
                node.color = BLACK
                return
            if parent.color == BLACK:
                return
            gparent = parent.parent
            assert gparent is not None  # a red parent is never the root
            if parent is gparent.left:
                uncle = gparent.right
                if not _black(uncle):
                    parent.color = uncle.color = BLACK  # type: ignore[union-attr]
                    gparent.color = RED
                    node = gparent
                    continue
                if node is parent.right:
                    self._rotate_left(parent)
                    parent = node
                self._rotate_right(gparent)
            else:
                uncle = gparent.left
                if not _black(uncle):
                    parent.color = uncle.color = BLACK  # type: ignore[union-attr]
                    gparent.color = RED
                    node = gparent
                    continue
                if node is parent.left:
                    self._rotate_right(parent)
                    parent = node
                self._rotate_left(gparent)
            parent.color = BLACK
            gparent.color = RED
            return

    def _erase(self, node: Extent) -> None:
        """Unlink `node`; a node with two children is replaced by its in-order successor, which
        takes its place and colour."""
        child = node.right if node.left is None else node.left if node.right is None else None
        if node.left is None or node.right is None:
            parent = node.parent
            self._replace_child(node, child, parent)
            if child is not None:
                child.parent = parent
                child.color = node.color  # a lone child is red under a black node
                return
            rebalance = parent if node.color == BLACK else None
        else:
            succ = node.right
            while succ.left is not None:
                succ = succ.left
            child2 = succ.right
            if succ is node.right:
                parent = succ
            else:
                parent = succ.parent
                assert parent is not None
                parent.left = child2
                if child2 is not None:
                    child2.parent = parent
                succ.right = node.right
                node.right.parent = succ
            succ.left = node.left
            node.left.parent = succ
            succ_color = succ.color
            succ.parent = node.parent
            self._replace_child(node, succ, node.parent)
            succ.color = node.color
            if child2 is not None:
                child2.color = BLACK
                rebalance = None
            else:
                rebalance = parent if succ_color == BLACK else None
        if rebalance is not None:
            self._erase_fixup(rebalance)

    def _erase_fixup(self, parent: Extent | None) -> None:
        """Restore the black height below `parent`, one of whose children (None at first, then
        the node moved up to) lost one black node: each step either finishes or moves up."""
        node: Extent | None = None
        while parent is not None:
            node = self._fix_step(parent, left=node is not parent.right)
            parent = None if node is None else node.parent

    def _fix_step(self, parent: Extent, *, left: bool) -> Extent | None:
        """One rebalancing step with the deficient child on the `left` (or right) of `parent`:
        returns the node to continue from (case 2 under a black parent), or None when done."""
        rot_near, rot_far = self._rotate_left, self._rotate_right
        if not left:
            rot_near, rot_far = rot_far, rot_near

        def sibling_of() -> Extent:
            s = parent.right if left else parent.left
            assert s is not None  # the other side holds at least one black node
            return s

        sibling = sibling_of()
        if sibling.color == RED:  # case 1: rotate so that the sibling is black
            rot_near(parent)
            sibling.color = BLACK
            parent.color = RED
            sibling = sibling_of()
        far = sibling.right if left else sibling.left
        near = sibling.left if left else sibling.right
        if _black(far):
            if _black(near):  # case 2: recolour the sibling; a red parent absorbs the deficit
                sibling.color = RED
                if parent.color == RED:
                    parent.color = BLACK
                    return None
                return parent
            rot_far(sibling)  # case 3: the red near nephew becomes the sibling
            sibling = sibling_of()
            far = sibling.right if left else sibling.left
        rot_near(parent)  # case 4
        sibling.color = parent.color
        parent.color = BLACK
        if far is not None:
            far.color = BLACK
        return None
