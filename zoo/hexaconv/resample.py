"""Square images onto the hexagonal lattice and back.

The lattice point (q, r) (axial, relative to the storage's centre) sits at
x = s (q + r / 2), y = s (sqrt(3) / 2) r from the image centre, with the
spacing s chosen so that a hexagon of `radius` cells spans the image's height:
the hexagon's flat top and bottom edges touch the image's top and bottom. The
image is sampled there with bilinear interpolation (pixels beyond the image's
left and right edges repeat the edge); cells outside the hexagon are 0.
`hex_to_square` goes back for display, taking each pixel's nearest cell.

Example:
    >>> hexes = square_to_hex(images, radius=36)     # (B, 64, 64, 3) -> (B, 73, 73, 3)
    >>> layer = SquareToHex(radius=36)               # the same inside a model
"""

import math

import keras
import numpy as np
from keras import ops

from zoo.hexaconv import lattice


def _sampling(height, width, radius):
    """(four flat pixel indices, four bilinear weights) per storage cell, and the hexagon mask."""
    size = 2 * radius + 1
    q, r = lattice.axial(size, size)
    spacing = min(height, width) / (radius * math.sqrt(3.0))
    x = spacing * (q + r / 2.0) + width / 2.0 - 0.5
    y = spacing * (math.sqrt(3.0) / 2.0) * r + height / 2.0 - 0.5
    x, y = np.clip(x, 0, width - 1), np.clip(y, 0, height - 1)
    x0, y0 = np.minimum(np.floor(x), width - 2).astype(int), np.minimum(np.floor(y), height - 2).astype(int)
    fx, fy = x - x0, y - y0
    index = np.stack([y0 * width + x0, y0 * width + x0 + 1, (y0 + 1) * width + x0, (y0 + 1) * width + x0 + 1])
    weight = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx])
    mask = lattice.hexagon_mask(radius)
    return index.reshape(4, -1), (weight * mask).reshape(4, -1).astype("float32")


def square_to_hex(images, radius):
    """(B, H, W, C) images -> (B, 2 * radius + 1, 2 * radius + 1, C) float32 hexagon-shaped maps."""
    b, h, w, c = images.shape
    index, weight = _sampling(h, w, radius)
    flat = ops.reshape(ops.cast(images, "float32"), (-1, h * w, c))
    out = 0.0
    for i in range(4):
        out = out + ops.take(flat, index[i], axis=1) * weight[i][None, :, None]
    size = 2 * radius + 1
    return ops.reshape(out, (-1, size, size, c))


def hex_to_square(hexes, size):
    """(B, S, S, C) hexagon-shaped maps -> (B, size, size, C) images, each pixel from its nearest cell (for display)."""
    hexes = np.asarray(hexes)
    radius = hexes.shape[1] // 2
    spacing = size / (radius * math.sqrt(3.0))
    yy, xx = np.mgrid[:size, :size] + 0.5 - size / 2.0
    r = yy / (spacing * math.sqrt(3.0) / 2.0)
    q = xx / spacing - r / 2.0
    q, r = _round_axial(q, r)
    inside = lattice.hex_distance(q, r) <= radius
    rows, cols = np.where(inside, r + radius, radius), np.where(inside, q + radius, radius)
    out = hexes[:, rows, cols]
    return np.where(inside[None, :, :, None], out, 0).astype(hexes.dtype)


def _round_axial(q, r):
    """Nearest lattice point of fractional axial coordinates (rounding in cube coordinates)."""
    x, z = q, r
    y = -x - z
    rx, ry, rz = np.round(x), np.round(y), np.round(z)
    dx, dy, dz = np.abs(rx - x), np.abs(ry - y), np.abs(rz - z)
    fix_x = (dx > dy) & (dx > dz)
    fix_z = ~fix_x & (dz >= dy)
    rx = np.where(fix_x, -ry - rz, rx)
    rz = np.where(fix_z, -rx - ry, rz)
    return rx.astype(int), rz.astype(int)


@keras.saving.register_keras_serializable(package="zoo.hexaconv")
class SquareToHex(keras.layers.Layer):
    """`square_to_hex` as a layer, so a model can take square (uint8) images directly."""

    def __init__(self, radius, **kwargs):
        super().__init__(**kwargs)
        self.radius = radius

    def call(self, images):
        return square_to_hex(images, self.radius)

    def compute_output_shape(self, input_shape):
        size = 2 * self.radius + 1
        return (input_shape[0], size, size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "radius": self.radius}
