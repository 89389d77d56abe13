"""Hexagonal and p6 / p6m group convolutions that reuse one ordinary Conv2D on axial storage.

A filter of radius 1 is a 3x3 axial kernel with the corners (-1, -1) and
(+1, +1) masked (7 taps); radius 2 is 5x5 with 19 taps. Group convolutions
expand their filter bank once per call by precomputed index permutations (a
rotated and, for p6m, mirrored copy per output group element) and then call
a single conv. Outputs outside the hexagonal support (the largest hexagon
centred in the storage) are zeroed, so a hexagon-shaped image stays one.

Example:
    >>> lift = P6GroupConv(16)                 # (B, R, C, ch) -> (B, R, C, 6, 16)
    >>> gconv = P6GroupConv(16)                # (B, R, C, 6, ch) -> (B, R, C, 6, 16)
    >>> y = gconv(lift(x))
"""

import keras
import numpy as np
from keras import ops

from zoo.hexaconv import lattice

_serializable = keras.saving.register_keras_serializable(package="zoo.hexaconv")


def kernel_mask(kernel_size):
    """The hexagonal taps of a kernel_size x kernel_size axial kernel (7 for 3, 19 for 5)."""
    if kernel_size % 2 != 1:
        raise ValueError(f"hexagonal kernels have odd sizes, got {kernel_size}")
    return lattice.hexagon_mask(kernel_size // 2)


def support_mask(rows, cols):
    """1 inside the largest hexagon centred in a rows x cols storage, else 0."""
    return lattice.hexagon_mask(min(rows, cols) // 2, rows, cols)


def _on_support(y):
    """`y` (B, R, C, ...) with every cell outside the hexagonal support set to 0."""
    rows, cols = y.shape[1], y.shape[2]
    mask = support_mask(rows, cols).astype("float32").reshape((1, rows, cols) + (1,) * (len(y.shape) - 3))
    return y * ops.convert_to_tensor(mask, y.dtype)


class _HexConvBase(keras.layers.Layer):
    order = 1  # output group size; 1 = planar

    def __init__(self, filters, kernel_size=3, use_bias=True, kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.use_bias = filters, kernel_size, use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._taps = kernel_mask(kernel_size)

    def build(self, input_shape):
        grouped = len(input_shape) == 5
        self.in_order = input_shape[3] if grouped else 1
        if grouped and self.in_order != self.order:
            raise ValueError(f"{type(self).__name__} takes group axis {self.order}, got {self.in_order}")
        channels = input_shape[-1]
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, self.in_order, channels, self.filters), initializer=self._initializer(), name="kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias") if self.use_bias else None
        self._gather = self._expansion_index()

    def _initializer(self):
        base, taps = self.kernel_initializer, int(self._taps.sum())
        k = self.kernel_size

        def init(shape, dtype=None):  # scale as if the kernel had only its hexagonal taps
            values = base((taps, *shape[2:]), dtype)
            full = np.zeros((k * k, *shape[2:]), "float32")
            full[np.flatnonzero(self._taps)] = ops.convert_to_numpy(values)
            return ops.convert_to_tensor(full.reshape(shape), dtype)

        return init

    def _expansion_index(self):
        """Flat indices into the (k*k*in_order) filter cells, for each (output element, cell, input element)."""
        k, order, in_order = self.kernel_size, self.order, self.in_order
        compose = lattice.compose_index(max(order, 6))[:order, :in_order] if in_order > 1 else np.zeros((order, 1), int)
        index = np.empty((order, k * k, in_order), np.int64)
        for h in range(order):
            cells, _ = lattice.source_index(k, k, k=h % 6, mirrored=h >= 6)
            index[h] = cells[:, None] * in_order + compose[h][None, :]
        return index

    def expanded_kernel(self):
        """The (k, k, in_order * channels, order * filters) kernel of the one Conv2D call."""
        k, order, in_order = self.kernel_size, self.order, self.in_order
        channels = self.kernel.shape[3]
        taps = ops.reshape(ops.convert_to_tensor(self._taps, self.kernel.dtype), (k, k, 1, 1, 1))
        flat = ops.reshape(self.kernel * taps, (k * k * in_order, channels, self.filters))
        bank = ops.take(flat, self._gather.reshape(-1), axis=0)  # (order * k*k * in_order, ch, filters)
        bank = ops.reshape(bank, (order, k, k, in_order, channels, self.filters))
        bank = ops.transpose(bank, (1, 2, 3, 4, 0, 5))
        return ops.reshape(bank, (k, k, in_order * channels, order * self.filters))

    def call(self, x):
        rows, cols = x.shape[1], x.shape[2]
        if len(x.shape) == 5:
            x = ops.reshape(x, (-1, rows, cols, self.in_order * x.shape[-1]))
        y = ops.conv(x, self.expanded_kernel(), padding="same")
        if self.order > 1:
            y = ops.reshape(y, (-1, rows, cols, self.order, self.filters))
        if self.bias is not None:
            y = y + self.bias
        return _on_support(y)

    def compute_output_shape(self, input_shape):
        b, rows, cols = input_shape[:3]
        return (b, rows, cols, self.filters) if self.order == 1 else (b, rows, cols, self.order, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@_serializable
class HexConv2D(_HexConvBase):
    """Planar hexagonal convolution: (B, R, C, ch) -> (B, R, C, filters)."""

    order = 1


@_serializable
class P6GroupConv(_HexConvBase):
    """p6 convolution (6 rotations): lifting from (B, R, C, ch), or group-to-group from (B, R, C, 6, ch);
    output (B, R, C, 6, filters)."""

    order = 6


@_serializable
class P6MGroupConv(_HexConvBase):
    """p6m convolution (6 rotations x mirror): lifting from (B, R, C, ch), or group-to-group from
    (B, R, C, 12, ch); output (B, R, C, 12, filters)."""

    order = 12


@_serializable
class GroupPooling(keras.layers.Layer):
    """Max or mean over the group axis: (B, R, C, G, ch) -> (B, R, C, ch), invariant to the group's action on it."""

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean"):
            raise ValueError(f"mode must be 'max' or 'mean', got {mode!r}")
        self.mode = mode

    def call(self, x):
        return ops.max(x, axis=3) if self.mode == "max" else ops.mean(x, axis=3)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@_serializable
class HexBatchNormalization(keras.layers.BatchNormalization):
    """Batch norm per channel with statistics shared over space and the group axis; the hexagonal
    support stays zero outside."""

    def __init__(self, **kwargs):
        kwargs.setdefault("axis", -1)
        super().__init__(**kwargs)

    def call(self, x, training=None):
        return _on_support(super().call(x, training=training))


@_serializable
class HexMaxPooling(keras.layers.Layer):
    """Max over each cell's 7-cell hexagonal neighbourhood, then every second cell along both axes.

    The kept cells form a hexagonal lattice twice as coarse that contains the
    centre cell (rows and cols must be 4n + 1), so rotations about it commute
    with the pooling. The neighbourhood of cell (r, c) is exactly the union of
    two 2x2 windows, rows r-1..r x cols c..c+1 and rows r..r+1 x cols c-1..c,
    so the layer is two ordinary stride-2 max pools (fast, with a fast gradient)
    on zero-padded copies, like the zero cells outside the support.
    """

    def call(self, x):
        rows, cols = x.shape[1], x.shape[2]
        if rows % 4 != 1 or cols % 4 != 1:
            raise ValueError(f"HexMaxPooling needs rows and cols of the form 4n + 1, got {rows}x{cols}")
        group_shape = tuple(x.shape[3:])
        flat = ops.reshape(x, (-1, rows, cols, int(np.prod(group_shape))))
        up_right = ops.max_pool(ops.pad(flat, [(0, 0), (1, 0), (0, 1), (0, 0)]), 2, strides=2)
        down_left = ops.max_pool(ops.pad(flat, [(0, 0), (0, 1), (1, 0), (0, 0)]), 2, strides=2)
        pooled = ops.maximum(up_right, down_left)
        return _on_support(ops.reshape(pooled, (-1, rows // 2 + 1, cols // 2 + 1, *group_shape)))

    def compute_output_shape(self, input_shape):
        b, rows, cols, *rest = input_shape
        return (b, rows // 2 + 1, cols // 2 + 1, *rest)
