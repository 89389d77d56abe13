"""Square images onto the hexagonal lattice and back."""

import keras
import numpy as np
from keras import ops

from zoo.hexaconv import SquareToHex, hex_to_square, square_to_hex, support_mask


def test_constant_image_gives_a_constant_hexagon():
    images = np.full((2, 64, 64, 3), 77, np.uint8)
    hexes = ops.convert_to_numpy(square_to_hex(images, radius=36))
    inside = support_mask(73, 73).astype(bool)
    assert hexes.shape == (2, 73, 73, 3)
    np.testing.assert_allclose(hexes[:, inside], 77.0, rtol=1e-6)
    assert np.all(hexes[:, ~inside] == 0)


def test_round_trip_of_a_smooth_image_is_close():
    yy, xx = np.mgrid[:64, :64]
    image = (128 + 100 * np.sin(xx / 9.0) * np.cos(yy / 11.0)).astype(np.float32)[None, :, :, None]
    back = hex_to_square(ops.convert_to_numpy(square_to_hex(image, radius=36)), 64)
    centre = slice(12, 52)  # inside the hexagon
    assert np.abs(back[0, centre, centre] - image[0, centre, centre]).mean() < 3.0


def test_layer_takes_uint8_and_serializes():
    layer = SquareToHex(radius=16)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(images)), ops.convert_to_numpy(square_to_hex(images, 16)))
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert again.get_config() == layer.get_config()
