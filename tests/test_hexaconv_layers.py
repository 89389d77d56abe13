"""HexaConv layers: hexagonal taps, exact lattice transforms, equivariance, masks, serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo.hexaconv import (
    GroupPooling,
    HexBatchNormalization,
    HexConv2D,
    HexMaxPooling,
    P6GroupConv,
    P6MGroupConv,
    kernel_mask,
    mirror,
    rotate60,
    support_mask,
)

RNG = np.random.default_rng(0)
SIZE = 13  # storage 13x13 holds a radius-6 hexagon; 13 = 4 * 3 + 1 suits pooling


def _hexagon_image(channels=3, group=None, batch=2):
    shape = (batch, SIZE, SIZE) + ((group,) if group else ()) + (channels,)
    x = RNG.normal(size=shape).astype("float32")
    mask = support_mask(SIZE, SIZE).reshape((1, SIZE, SIZE) + (1,) * (len(shape) - 3))
    return ops.convert_to_tensor(x * mask)


def _transforms(order):
    """(name, function) for every non-identity element that acts on a group axis of `order`."""
    out = [(f"rot{k}", lambda x, k=k: rotate60(x, k)) for k in range(1, 6)]
    if order == 12:
        out += [("mirror", mirror), ("mirror-rot2", lambda x: rotate60(mirror(x), 2))]
    return out


@pytest.mark.parametrize("size, taps", [(3, 7), (5, 19)])
def test_free_taps_per_filter(size, taps):
    assert kernel_mask(size).sum() == taps
    layer = HexConv2D(4, kernel_size=size)
    x = _hexagon_image()
    with tf.GradientTape() as tape:
        loss = ops.sum(layer(x) ** 2)
    grad = tape.gradient(loss, layer.kernel).numpy()
    assert (np.abs(grad).sum(axis=(2, 3, 4)) > 0).sum() == taps


def test_rotate_six_times_and_mirror_twice_are_identities():
    for x in (_hexagon_image(), _hexagon_image(group=6), _hexagon_image(group=12)):
        np.testing.assert_array_equal(ops.convert_to_numpy(rotate60(x, 6)), ops.convert_to_numpy(x))
        y = x
        for _ in range(6):
            y = rotate60(y)
        np.testing.assert_array_equal(ops.convert_to_numpy(y), ops.convert_to_numpy(x))
        if x.shape[3] != 6:
            np.testing.assert_array_equal(ops.convert_to_numpy(mirror(mirror(x))), ops.convert_to_numpy(x))
    with pytest.raises(ValueError, match="p6m"):
        mirror(_hexagon_image(group=6))
    a = ops.convert_to_numpy(rotate60(_hexagon_image(), 1))
    assert not np.array_equal(a, ops.convert_to_numpy(rotate60(ops.convert_to_tensor(a), 1)))


@pytest.mark.parametrize("make, in_group, order", [
    (lambda: P6GroupConv(5), None, 6),
    (lambda: P6GroupConv(5), 6, 6),
    (lambda: P6GroupConv(5, kernel_size=5), 6, 6),
    (lambda: P6MGroupConv(4), None, 12),
    (lambda: P6MGroupConv(4), 12, 12),
    (lambda: HexBatchNormalization(), 6, 6),
    (lambda: HexMaxPooling(), 6, 6),
    (lambda: HexMaxPooling(), 12, 12),
])
def test_group_layers_are_equivariant(make, in_group, order):
    layer = make()
    x = _hexagon_image(group=in_group)
    y = layer(x)
    for name, transform in _transforms(order):
        np.testing.assert_allclose(
            ops.convert_to_numpy(layer(transform(x))), ops.convert_to_numpy(transform(y)), atol=1e-5, err_msg=name
        )


def test_group_pooling_is_invariant_on_the_group_axis():
    x = _hexagon_image(group=12)
    pooled = GroupPooling("max")(x)
    for name, transform in _transforms(12):
        np.testing.assert_allclose(
            ops.convert_to_numpy(GroupPooling("max")(transform(x))),
            ops.convert_to_numpy(transform(pooled)), atol=1e-6, err_msg=name,
        )


@pytest.mark.parametrize("layer", [HexConv2D(3), P6GroupConv(3), P6MGroupConv(3), HexBatchNormalization()])
def test_outputs_outside_the_support_stay_zero(layer):
    x = _hexagon_image(group=None if not isinstance(layer, HexBatchNormalization) else 6)
    y = ops.convert_to_numpy(layer(x, training=True) if isinstance(layer, HexBatchNormalization) else layer(x))
    outside = support_mask(SIZE, SIZE) == 0
    assert np.all(y[:, outside] == 0)


def test_planar_hexconv_is_a_masked_conv2d():
    layer = HexConv2D(6, use_bias=False)
    x = _hexagon_image()
    y = layer(x)
    masked = layer.kernel.numpy()[:, :, 0] * kernel_mask(3)[:, :, None, None]
    ref = tf.nn.conv2d(x, masked, 1, "SAME").numpy() * support_mask(SIZE, SIZE)[None, :, :, None]
    np.testing.assert_allclose(ops.convert_to_numpy(y), ref, atol=1e-5)


def test_hex_max_pooling_is_the_max_over_seven_neighbours_on_the_coarse_lattice():
    x = ops.convert_to_numpy(_hexagon_image(channels=2, group=6))
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0), (0, 0)])
    neighbours = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (-1, 1), (1, -1)]
    full = np.max([padded[:, 1 + dr : 1 + dr + SIZE, 1 + dc : 1 + dc + SIZE] for dr, dc in neighbours], axis=0)
    coarse = SIZE // 2 + 1
    expected = full[:, ::2, ::2] * support_mask(coarse, coarse)[None, :, :, None, None]
    np.testing.assert_array_equal(ops.convert_to_numpy(HexMaxPooling()(x)), expected)


def test_group_axis_mismatch_is_refused():
    with pytest.raises(ValueError, match="takes group axis 6, got 12"):
        P6GroupConv(3)(_hexagon_image(group=12))


@pytest.mark.parametrize("layer", [
    HexConv2D(4, kernel_size=5), P6GroupConv(4, use_bias=False), P6MGroupConv(2), GroupPooling("mean"),
    HexBatchNormalization(momentum=0.9), HexMaxPooling(),
])
def test_layers_serialize(layer):
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_a_saved_model_reloads_with_identical_outputs(tmp_path):
    inputs = keras.Input((SIZE, SIZE, 3))
    h = P6MGroupConv(4)(inputs)
    h = HexBatchNormalization()(h)
    h = HexMaxPooling()(P6MGroupConv(4)(h))
    outputs = keras.layers.GlobalAveragePooling2D()(GroupPooling()(h))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    x = _hexagon_image()
    np.testing.assert_array_equal(ops.convert_to_numpy(model(x)), ops.convert_to_numpy(again(x)))
