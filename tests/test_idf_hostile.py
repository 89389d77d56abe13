"""The codec on hostile input: every malformed stream raises CodecError, quickly, and never returns wrong
pixels. The found cases of the trust issue are regression tests; a fuzz test mutates real streams
(a few hundred here, many thousands with `pytest -m slow`)."""

import time

import numpy as np
import pytest

import zoo
from zoo.idf import Codec, CodecError, compress, decompress
from zoo.idf.codec import MAX_PIXELS, ROUNDED_PRIORS, VERSION, _Header, _name_number, _varint

RNG = np.random.default_rng(0)


def _image(shape=(32, 32, 3), seed=0):
    """A smooth image with a little noise: coded by the flow (noise alone would be stored raw)."""
    h, w = shape[-3:-1]
    yy, xx = np.mgrid[:h, :w]
    base = (128 + 60 * np.sin(xx / 5.0 + seed) * np.cos(yy / 7.0))[..., None]
    noise = np.random.default_rng(seed).integers(-3, 4, shape)
    return np.clip(np.broadcast_to(base, shape) + noise, 0, 255).astype(np.uint8)


def _rewrite_header(data, **changes):
    """The stream with its header fields changed (the payload and CRC kept)."""
    header = _Header.parse(data)
    for k, v in changes.items():
        setattr(header, k, v)
    return header.pack() + data[header.size:]


def test_a_header_claiming_100000_images_is_refused_at_once():
    data = compress(_image((2, 32, 32, 3)))
    start = time.perf_counter()
    with pytest.raises(CodecError, match="claims more pixels than the payload"):  # decoding work is bounded
        decompress(_rewrite_header(data, n=100_000), max_pixels=None)  # by the payload, not the header
    with pytest.raises(CodecError, match="above the limit"):
        decompress(_rewrite_header(data, n=100_000))
    assert time.perf_counter() - start < 2.0


def test_a_header_claiming_100000_by_100000_pixels_is_refused_not_allocated():
    data = compress(_image())
    with pytest.raises(CodecError, match="above the limit"):
        decompress(_rewrite_header(data, h=100_000, w=100_000))
    assert 100_000**2 > MAX_PIXELS


def test_the_pixel_limit_can_be_lifted_by_the_caller():
    image = _image((40, 40, 3))
    data = compress(image)
    with pytest.raises(CodecError, match="above the limit"):
        decompress(data, max_pixels=1000)
    np.testing.assert_array_equal(decompress(data, max_pixels=None), image)


def test_a_corrupted_model_name_is_a_codec_error():
    data = compress(_image())
    header = _Header.parse(data)
    forged = b"Z" + bytes([VERSION]) + _varint(_name_number("idf-cifar11")) + data[2 + len(_varint(_name_number(header.name))):]
    with pytest.raises(CodecError, match="which this zoo does not have"):
        decompress(forged)


def test_an_endless_header_number_is_a_codec_error():
    with pytest.raises(CodecError, match="too long|truncated"):
        decompress(b"Z" + bytes([VERSION]) + b"\xff" * 200)


def _mutations(data, rng, count):
    """`count` damaged copies of `data`: bit flips, byte changes, truncations, insertions, header edits."""
    for i in range(count):
        kind = i % 5
        d = bytearray(data)
        if kind == 0:
            pos = rng.integers(len(d))
            d[pos] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            for pos in rng.integers(len(d), size=int(rng.integers(1, 4))):
                d[pos] = int(rng.integers(256))
        elif kind == 2:
            d = d[: int(rng.integers(len(d)))]
        elif kind == 3:
            pos = int(rng.integers(len(d) + 1))
            d[pos:pos] = bytes(rng.integers(0, 256, int(rng.integers(1, 9))).astype(np.uint8))
        else:
            pos = int(rng.integers(min(26, len(d))))
            d[pos] = int(rng.integers(256))
        yield bytes(d)


def _fuzz(count, seed):
    rng = np.random.default_rng(seed)
    # coded RGB images, a gray one and a one-pixel one (both stored raw: too small or gray to gain), and a
    # mixed batch (a coded image and stored noise)
    noise = np.random.default_rng(seed).integers(0, 256, (1, 32, 32, 3)).astype(np.uint8)
    mixed = np.concatenate([_image((1, 32, 32, 3), 5), noise])
    originals = [_image((32, 32, 3), 1), _image((2, 32, 48, 3), 2), _image((17, 9, 1), 3), _image((1, 1, 3), 4), mixed]
    for name in zoo.list_models("idf-*", pretrained=True):  # a model's first load and tracing are not the damage's
        channels = Codec.for_model(name).flow.image_shape[-1]  # cost: a mutated name may call any published model,
        for precision in ("float32", "bfloat16", ROUNDED_PRIORS):  # and mutated flags any of its arithmetics
            codec = Codec.for_model(name, precision)
            codec.decompress(codec.compress(_image((64, 64, channels))))
    slowest = 0.0
    outcomes = {"refused": 0, "intact": 0}
    for original in originals:
        data = compress(original)
        header = _Header.parse(data)
        assert header.stored == (original.shape[-1] == 1 or original.size < 10)
        assert header.mixed == (original is mixed)
        for damaged in _mutations(data, rng, count // len(originals)):
            start = time.perf_counter()
            try:
                decoded = decompress(damaged)
            except CodecError:
                outcomes["refused"] += 1
            else:  # a mutation the stream survives must give back the exact pixels
                np.testing.assert_array_equal(decoded, original)
                outcomes["intact"] += 1
            slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 2.0, f"a damaged stream took {slowest:.2f} s to decode"
    assert outcomes["refused"] > 0
    return outcomes


def test_fuzzed_streams_raise_codec_error_or_decode_exactly():
    _fuzz(300, seed=0)


@pytest.mark.slow
def test_fuzzed_streams_many():
    _fuzz(5000, seed=1)


@pytest.mark.parametrize("shape", [(28, 28, 1), (1, 1, 3), (5, 300, 3), (3, 28, 28, 1)])
def test_no_stream_costs_more_than_the_raw_pixels_plus_the_header(shape):
    image = np.random.default_rng(7).integers(0, 256, shape).astype(np.uint8)  # noise: the model cannot gain
    data = compress(image)
    header = _Header.parse(data)
    assert len(data) <= image.size + header.size + 4  # + the CRC32
    np.testing.assert_array_equal(decompress(data), image)


def test_in_a_batch_each_image_costs_at_most_its_raw_pixels():
    smooth = _image((3, 32, 40, 3), 5)
    noise = np.random.default_rng(8).integers(0, 256, (2, 32, 40, 3)).astype(np.uint8)
    batch = np.concatenate([smooth[:1], noise[:1], smooth[1:], noise[1:]])  # coded, stored, coded, coded, stored
    data = compress(batch)
    header = _Header.parse(data)
    assert header.mixed and not header.stored
    np.testing.assert_array_equal(decompress(data), batch)
    alone = compress(smooth)  # the coded images alone: the noise adds its raw pixels and one bit each, no more
    assert len(data) <= len(alone) + noise.size + 1 + 4  # + the table of stored images, + word alignment
    np.testing.assert_array_equal(decompress(compress(noise)), noise)  # all stored: the plain stored stream
    assert _Header.parse(compress(noise)).stored


def test_a_mixed_stream_with_a_damaged_table_of_stored_images_is_refused():
    batch = np.concatenate([_image((1, 32, 32, 3), 6), np.full((1, 32, 32, 3), 7, np.uint8)])
    batch[1] = np.random.default_rng(9).integers(0, 256, (32, 32, 3))
    data = compress(batch)
    header = _Header.parse(data)
    assert header.mixed
    start = header.size + 4
    for table in (0b00000000, 0b11000000, 0b10100000):  # none stored, all stored, a bit beyond N
        with pytest.raises(CodecError):
            decompress(data[:start] + bytes([table]) + data[start + 1:])
