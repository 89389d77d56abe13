"""Exact lattice transforms of axial-stored hexagonal maps, written with `keras.ops`.

`x` is (batch, rows, cols, channels), or a group feature map (batch, rows,
cols, group, channels) with group 6 (p6) or 12 (p6m), where the group axis is
permuted too. Rotations are about the storage's centre cell; cells whose
source lies outside the storage become 0.

Example:
    >>> y = rotate60(x, k=2)             # 120 degrees
    >>> same = rotate60(x, k=6)          # the identity
"""

from keras import ops

from zoo.hexaconv import lattice


def rotate60(x, k=1):
    """`x` rotated by k x 60 degrees about the storage's centre cell."""
    return _transform(x, k % 6, False)


def mirror(x):
    """`x` mirrored by (q, r) -> (r, q) (a reflection through the storage's centre cell)."""
    return _transform(x, 0, True)


def _transform(x, k, mirrored):
    rows, cols = x.shape[1], x.shape[2]
    if mirrored and len(x.shape) == 5 and x.shape[3] != 12:
        raise ValueError(f"mirror acts on planar maps and p6m maps (group axis 12), not on a group axis of {x.shape[3]}")
    index, inside = lattice.source_index(rows, cols, k, mirrored)
    rest = tuple(x.shape[3:])
    flat = ops.reshape(x, (-1, rows * cols, *rest))
    moved = ops.take(flat, index, axis=1)
    keep = ops.reshape(ops.convert_to_tensor(inside), (1, rows * cols) + (1,) * len(rest))
    moved = ops.where(keep, moved, ops.zeros_like(moved))
    out = ops.reshape(moved, (-1, rows, cols, *rest))
    if len(rest) == 2:  # a group feature map: permute the group axis as well
        out = ops.take(out, lattice.group_index(rest[0], k, mirrored), axis=3)
    return out
