"""Index arithmetic of the hexagonal lattice in axial coordinates.

A hexagonal image is stored as an ordinary 2-D array: storage cell (row, col)
is the lattice point with axial coordinates (q, r) = (col - centre_col,
row - centre_row), relative to the storage's centre cell. Its six neighbours
are (q +- 1, r), (q, r +- 1), (q + 1, r - 1) and (q - 1, r + 1): in a 3x3
window, everything but the two corners (-1, -1) and (+1, +1).

A rotation by 60 degrees is the exact permutation (q, r) -> (-r, q + r) of
lattice points (cube coordinates (x, y, z) -> (-z, -x, -y)); the mirror is
(q, r) -> (r, q). Group elements of p6m are g = r^k s^m (rotate k times after
mirroring m times), stored at index m * 6 + k; p6 is the m = 0 half.

Example:
    >>> hexagon_mask(1)          # radius-1 hexagon in 3x3 storage: 7 cells
    array([[0, 1, 1],
           [1, 1, 1],
           [1, 1, 0]])
"""

import numpy as np


def axial(rows, cols):
    """(q, r) of every storage cell, relative to the centre cell (rows // 2, cols // 2)."""
    r, q = np.mgrid[:rows, :cols]
    return q - cols // 2, r - rows // 2


def hex_distance(q, r):
    """Number of lattice steps from the centre."""
    return (np.abs(q) + np.abs(r) + np.abs(q + r)) // 2


def hexagon_mask(radius, rows=None, cols=None):
    """1 on the cells within `radius` steps of the storage's centre, else 0 (storage 2 * radius + 1 square by default)."""
    rows = rows or 2 * radius + 1
    cols = cols or 2 * radius + 1
    return (hex_distance(*axial(rows, cols)) <= radius).astype(np.int64)


def rotate_axial(q, r, k=1):
    """(q, r) rotated by k x 60 degrees."""
    for _ in range(k % 6):
        q, r = -r, q + r
    return q, r


def mirror_axial(q, r):
    return r, q


def source_index(rows, cols, k=0, mirrored=False):
    """For `out = T(x)` with T = rotation^k after an optional mirror: the flat storage index each output
    cell reads, and whether that source cell lies inside the storage (else the output cell is 0)."""
    q, r = axial(rows, cols)
    # out(p) = x(T^-1 p): undo the rotation, then the mirror (a mirror is its own inverse)
    q, r = rotate_axial(q, r, -k % 6)
    if mirrored:
        q, r = mirror_axial(q, r)
    row, col = r + rows // 2, q + cols // 2
    inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    index = np.where(inside, row * cols + col, 0)
    return index.reshape(-1), inside.reshape(-1)


def group_index(order, k=0, mirrored=False):
    """For a transform h = r^k s^mirrored acting on a group axis of `order` 6 (p6) or 12 (p6m):
    out[g] = in[h^-1 g], as the input index of each output element."""
    index = []
    for g in range(order):
        m, a = divmod(g, 6)  # g = r^a s^m
        # h^-1 = s^mirrored r^-k ; h^-1 g = s^mirrored r^(a - k) s^m
        a = a - k
        if mirrored:  # s r^a = r^-a s
            a, m = -a, 1 - m
        index.append((m % 2) * 6 + a % 6)
    return np.array(index)


def compose_index(order):
    """table[h, g] = index of h^-1 g, for every pair of elements of p6 (order 6) or p6m (order 12)."""
    return np.stack([group_index(order, k=h % 6, mirrored=h >= 6) for h in range(order)])
