"""Values outside their table's window: the distance code round trips at every bit length and costs what
`escapes.bits` says, the codec writes format 7 only for streams that hold an escape, and format 6 streams'
escapes still decode (a published model's fixture here; a test flow's in tests/test_idf_mean_shifts.py)."""

from pathlib import Path

import constriction
import numpy as np
import pytest

from zoo.idf import escapes
from zoo.idf.codec import READS, VERSION, Codec, CodecError, _Header
from test_idf_scale_offsets import _patchy  # noqa: I001 (the test folder is on the path)
from test_idf_whole_image import _flow


def _escaped(seed=0, count=400):
    """Escaped values of random windows, on both sides, at every distance's bit length from 0 to 31."""
    rng = np.random.default_rng(seed)
    low, width = rng.integers(-1000, 1000, count), rng.integers(16, 200, count)
    length = np.arange(count) % 32
    distance = (1 << length) + rng.integers(0, 1 << 62, count) % (1 << length)
    distance[:4] = [1, 2**16, 2**16 + 1, escapes.LIMIT - 1]
    above = rng.random(count) < 0.5
    return np.where(above, low + width - 1 + distance, low - distance), low, width


def test_escaped_values_round_trip_and_cost_their_bits():
    values, low, width = _escaped()
    above, distance = escapes.distances(values, low, width)
    assert distance.min() >= 1 and np.array_equal(above, values >= low + width)
    coder = constriction.stream.stack.AnsCoder()
    escapes.encode(above, distance, coder)
    size = 32 * len(coder.get_compressed())
    assert escapes.bits(distance).sum() <= size <= escapes.bits(distance).sum() + 64  # rANS: within two words
    np.testing.assert_array_equal(escapes.decode(low, width, coder), values)
    assert coder.is_empty()


def test_format_6_escapes_decode_from_their_two_halves():
    values, low, width = _escaped(count=50)
    values = np.clip(values, -(1 << 31), (1 << 31) - 1)  # what format 6 could code
    shifted = values + escapes.RAW_OFFSET
    coder = constriction.stream.stack.AnsCoder()
    halves = np.stack([shifted >> 16, shifted & 0xFFFF], axis=1).reshape(-1).astype(np.int32)
    coder.encode_reverse(halves, constriction.stream.model.Uniform(1 << 16))
    np.testing.assert_array_equal(escapes.decode_raw(low, width, coder), values)


def test_a_stream_is_format_7_only_if_a_value_escaped():
    """A test flow codes an image whose noise differs by region with escapes (format 7) and a flat image
    without (format 6, which the zoos of format 6 read alike); both decode."""
    codec = Codec(_flow(3, seed=4, context=8, context_stages=4), "test-escapes", precision="float32")
    flat = np.full((64, 64, 3), 90, np.uint8)
    for image, version in ((_patchy((128, 192, 3)), VERSION), (flat, READS[0])):
        escaped = any(((values < low) | (values >= low + width)).any()
                      for low, width, _, _, values, _ in codec._chunk_segments(image[None]))
        data = codec.compress(image)
        assert _Header.parse(data).version == (VERSION if escaped else READS[0]) == version
        np.testing.assert_array_equal(codec.decompress(data), image)


@pytest.mark.parametrize("version", [READS[0] - 1, max(READS) + 1])
def test_other_format_versions_are_refused(version):
    codec = Codec(_flow(3, seed=4), "test-escapes")
    data = bytearray(codec.compress(np.full((64, 64, 3), 90, np.uint8)))
    data[1] = version
    with pytest.raises(CodecError, match=f"version {version} is not supported"):
        codec.decompress(bytes(data))


def _salted_gradient():
    """A 64x64 colour gradient with five pixels set to 0 or 255 per channel: sharp priors, values far off."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    image = np.stack([100 + xx, 80 + yy, 120 + (xx + yy) // 2], -1).astype(np.int64)
    where = rng.integers(0, 64, (5, 2))
    image[where[:, 0], where[:, 1]] = rng.choice([0, 255], (5, 3))
    return image.clip(0, 255).astype(np.uint8)


def test_a_published_models_format_6_stream_with_escapes_still_decodes():
    """tests/data/idf_photos_format_6.idf: `_salted_gradient()` coded by the zoo of commit cf966dc
    (`Codec.for_model("idf-photos", precision="float32")`), format 6, its salt escaping: it decodes bit for bit,
    and coded again it is format 7, the same header but its version, and shorter."""
    data = (Path(__file__).parent / "data" / "idf_photos_format_6.idf").read_bytes()
    codec = Codec.for_model("idf-photos", precision="float32")
    image = _salted_gradient()
    header = _Header.parse(data)
    assert header.version == 6
    np.testing.assert_array_equal(codec.decompress(data), image)
    again = codec.compress(image)
    assert _Header.parse(again).version == 7 and again[2 : header.size] == data[2 : header.size]
    assert len(again) < len(data)
