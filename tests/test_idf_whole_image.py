"""Fully convolutional flows: one prior per channel, images of any size coded whole (or in pieces of at
most MAX_SIDE), with context across what were tile borders; a user's own flow in the codec."""

import keras
import numpy as np
import pytest

from zoo.idf import CodecError, compress, decompress
from zoo.idf.codec import MAX_SIDE, Codec, _Header
from zoo.idf.model import IntegerDiscreteFlow


def _flow(channels=3, seed=0, name="test-flow", **options):
    """A small fully convolutional flow with random (not zero) weights, so that nothing is trivially uniform."""
    keras.utils.set_random_seed(seed)
    flow = IntegerDiscreteFlow((16, 16, channels), levels=2, flows_per_level=2, width=8, mixtures=3,
                               fully_convolutional=True, name=name, **options)
    rng = np.random.default_rng(seed)
    flow.set_weights([w if w.dtype.kind == "i" else (w + 0.05 * rng.normal(size=w.shape)).astype(w.dtype)
                      for w in flow.get_weights()])
    return flow


def _photo(shape, seed=0):
    """Smooth structure plus a little noise, like a photograph's crop."""
    *lead, h, w, c = shape
    yy, xx = np.mgrid[:h, :w]
    base = 128 + 50 * np.sin(xx / 6.0 + seed)[..., None] * np.cos(yy / 9.0)[..., None] * np.arange(1, c + 1) / c
    noise = np.random.default_rng(seed).integers(-4, 5, shape)
    return np.clip(np.broadcast_to(base, shape) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rgb():
    return Codec(_flow(3), "test-rgb")


@pytest.fixture(scope="module")
def gray():
    return Codec(_flow(1, seed=1), "test-gray")


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 9, 3), (1, 300, 3), (40, 24, 1), (3, 20, 28, 3), (6, 2100, 3)])
def test_rgb_flow_round_trips_any_size_bit_exactly(rgb, shape):
    image = _photo(shape)
    data = rgb.compress(image)
    np.testing.assert_array_equal(rgb.decompress(data), image)
    assert _Header.parse(data).name == "test-rgb"  # the stream names the model that made it


@pytest.mark.parametrize("shape", [(33, 20, 1), (1, 5, 1), (2, 12, 40, 1)])
def test_gray_flow_round_trips_and_refuses_colour(gray, shape):
    image = _photo(shape)
    np.testing.assert_array_equal(gray.decompress(gray.compress(image)), image)
    with pytest.raises(CodecError, match="1-channel"):
        gray.compress(_photo((8, 8, 3)))


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 9, 3), (2, 36, 52, 3)])
def test_an_idf_plus_plus_flow_round_trips_bit_exactly(shape):
    """Group normalization reduces over the whole piece: encode and decode must still agree on every float."""
    codec = Codec(_flow(3, seed=2, undo_permutations=True, rezero=True, norm_groups=4), "test-idfpp")
    image = _photo(shape, seed=3)
    np.testing.assert_array_equal(codec.decompress(codec.compress(image)), image)


def test_an_image_is_one_piece_up_to_max_side_then_the_fewest_equal_pieces(rgb):
    assert rgb.tile_shape(512, 768) == (512, 768, 3)  # a Kodak photograph, whole
    assert rgb.tile_shape(17, 9) == (20, 12, 3)  # rounded up to the squeeze factor, 2**levels = 4
    h, w, _ = rgb.tile_shape(MAX_SIDE + 1, 3 * MAX_SIDE)
    assert (h, w) == (MAX_SIDE // 2 + 4, MAX_SIDE)  # two pieces of 516 (a multiple of 4) rows, three of 1024


def test_the_prior_is_the_same_at_every_position():
    flow = _flow(3)
    assert flow.prior.means.shape == (3 * 2**3, 3)  # per channel of the last latent, no position axis
    image = _photo((64, 64, 3), seed=3)
    shifted = np.roll(image, (16, 24), axis=(0, 1))  # the same content elsewhere (wrapped round)
    bits = [float(flow(x[None])[0]) * image.size for x in (image, shifted)]
    assert abs(bits[0] - bits[1]) < 0.01 * bits[0], bits  # only the borders' zero padding differs


def test_a_users_own_flow_codes_and_its_weights_guard_the_stream():
    flow = _flow(3, seed=4, name="My_Flow")
    images = _photo((2, 24, 16, 3), seed=5)
    data = compress(images, model=flow)
    assert _Header.parse(data).name == "my_flow"
    np.testing.assert_array_equal(decompress(data, model=flow), images)
    flow.set_weights([w + 1 if w.dtype.kind == "f" else w for w in flow.get_weights()])  # fine-tuned further
    with pytest.raises(CodecError, match="other weights"):
        decompress(data, model=flow)
    with pytest.raises(CodecError, match="does not have"):
        decompress(data)  # not a registered model
    with pytest.raises(CodecError, match="IntegerDiscreteFlow"):
        compress(images, model=object())


def test_by_default_every_fitting_published_model_is_tried_and_the_shortest_stream_kept(monkeypatch):
    from zoo.idf import codec as codec_module

    # the published models: a CIFAR-sized colour image tries both RGB flows, a photograph the whole-image one,
    # a gray image the gray one
    assert codec_module.candidates(3, 32 * 32) == ["idf-cifar10", "idf-photos"]
    assert codec_module.candidates(3, 768 * 512) == ["idf-photos"] and codec_module.candidates(1) == ["idf-gray"]
    codecs = {"flow-a": Codec(_flow(3, seed=6), "flow-a"), "flow-b": Codec(_flow(3, seed=7), "flow-b")}
    monkeypatch.setattr(codec_module, "candidates", lambda channels, pixels: list(codecs))
    monkeypatch.setattr(codec_module, "_codec", lambda name, precision="auto": codecs[name])
    image = _photo((24, 32, 3), seed=8)
    lengths = {name: len(c.compress(image)) for name, c in codecs.items()}
    data = compress(image)
    assert len(data) == min(lengths.values())
    assert _Header.parse(data).name == min(lengths, key=lengths.get)  # the stream names the model that won


def test_the_default_candidates_match_the_channels_then_the_size(monkeypatch):
    from types import SimpleNamespace

    import zoo
    from zoo.idf import codec as codec_module

    shapes = {"tiles-rgb": ((32, 32, 3), False), "photo-rgb": ((64, 64, 3), True), "photo-gray": ((64, 64, 1), True)}
    monkeypatch.setattr(zoo, "list_models", lambda pattern, pretrained: list(shapes))
    monkeypatch.setattr(codec_module, "_codec", lambda name, precision="auto": SimpleNamespace(
        flow=SimpleNamespace(image_shape=shapes[name][0], fully_convolutional=shapes[name][1])))
    photo = codec_module.PHOTO_PIXELS
    assert codec_module.candidates(3, 32 * 32) == ["tiles-rgb", "photo-rgb"]
    assert codec_module.candidates(3, photo) == ["photo-rgb"]  # no tiles on a photograph
    assert codec_module.candidates(1, 32 * 32) == ["photo-gray"]  # gray is not coded as three channels
    del shapes["photo-gray"], shapes["photo-rgb"]
    assert codec_module.candidates(1, photo) == ["tiles-rgb"]  # the only model left
    shapes.clear()
    with pytest.raises(CodecError, match="no published"):
        codec_module.candidates(3)
