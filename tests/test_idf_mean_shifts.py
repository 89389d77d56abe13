"""The split priors' mean shifts per block: the encoder's choice against a known displacement of the values,
bit-exact round trips where they are used, what they buy on flat and smooth images, and streams made before
them still decoding as they were made."""

from pathlib import Path

import numpy as np
import pytest

from zoo.idf import mean_shifts, scale_offsets
from zoo.idf.codec import Codec, _Header
from test_idf_scale_offsets import _patchy  # noqa: I001 (the test folder is on the path)
from test_idf_whole_image import _flow, _photo

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("k", [-4, -2, -1, 0, 1, 3, 4])
def test_the_chosen_shift_is_the_displacement_of_the_values(k):
    """Values drawn from sharp logistics around mean + k STEP, rounded: each block's shift is k STEP (the
    weighted mean of 1024 clipped residuals is within a few hundredths of a unit of it)."""
    rng = np.random.default_rng(k + 10)
    shape = (1, 64, 96, 2)
    mean = rng.uniform(-20, 20, shape).astype(np.float32)
    log_scale = rng.uniform(-2.5, -1.0, shape).astype(np.float32)  # scales 0.08-0.37: rounding dominates
    y = np.round(mean + k * mean_shifts.STEP + 0.3 * np.exp(log_scale) * rng.logistic(size=shape))
    # a rounded value's residual is uniform in +-1/2 around the true displacement only on average over means:
    # they are uniform here, so the block's mean residual is the displacement
    index = mean_shifts.choose(y, mean, log_scale)
    assert index.shape == (1, 2, 3, 2)
    assert np.all(index == k + mean_shifts.SHIFTS // 2)


def test_shifts_expand_to_their_blocks_and_zero_is_the_middle_index():
    index = np.arange(6, dtype=np.int32).reshape(1, 2, 3, 1)
    shifts = np.asarray(mean_shifts.expand(index, 40, 70))
    assert shifts.shape == (1, 40, 70, 1)
    assert shifts[0, 39, 69, 0] == (5 - mean_shifts.SHIFTS // 2) * mean_shifts.STEP
    assert np.all(np.asarray(mean_shifts.expand(mean_shifts.none((2, 40, 70, 3)), 40, 70)) == 0.0)
    assert mean_shifts.COUNTS.argmax() == mean_shifts.SHIFTS // 2 and mean_shifts.COUNTS.min() > 0


@pytest.mark.parametrize("stages", [2, 4])
def test_shifts_round_trip_bit_exactly_and_the_stream_says_whether_it_has_them(stages):
    codec = Codec(_flow(3, seed=4, context=8, context_stages=stages), "test-shifts", precision="float32")
    plain = Codec(codec.flow, "test-shifts", precision="float32", mean_shifts=False)
    for image in (_patchy((128, 192, 3)), _photo((2, 70, 130, 3)), _photo((1, 300, 3))):
        data = codec.compress(image)
        assert _Header.parse(data).shifts and not _Header.parse(plain.compress(image)).shifts
        np.testing.assert_array_equal(codec.decompress(data), image)
        np.testing.assert_array_equal(codec.decompress(plain.compress(image)), image)  # either codec reads either
    chunk = codec._chunk_segments(_patchy((128, 192, 3))[None])
    [shifts] = [symbols for *_, side in chunk for symbols, model, _ in side if model is mean_shifts.MODEL]
    assert shifts.shape == (1, 2, 3, 6)  # the first split's latent: 64x96 positions, 6 channels, every stage


def test_the_published_photo_model_codes_a_flat_image_in_far_fewer_bits_with_shifts():
    """A flat colour, where the priors are sharp and their means a fraction of a unit off: idf-photos pays
    about 0.8 bits per dimension without shifts (benchmarks/idf_highlights.py), about half with them."""
    codec = Codec.for_model("idf-photos")
    plain = Codec(codec.flow, "idf-photos", precision=codec.precision, mean_shifts=False)
    flat = np.full((128, 128, 3), (255, 255, 200), np.uint8)
    with_shifts, without = codec.compress(flat), plain.compress(flat)
    np.testing.assert_array_equal(codec.decompress(with_shifts), flat)
    assert len(with_shifts) < 0.75 * len(without)


def test_streams_made_before_mean_shifts_still_decode_and_are_reproduced():
    """tests/data/idf_before_mean_shifts.idf: `_patchy((128, 192, 3))` coded by the zoo of commit 3f25196
    (`Codec(_flow(3, seed=4, context=8, context_stages=4), "test-offsets", precision="float32")`), with scale
    offsets and no mean shifts, format 6: it decodes bit for bit, and the codec without shifts makes it again
    but for its escaped values, which format 7 codes by their distance beyond their windows: the same header
    but its version, fewer bytes, the same pixels."""
    data = (DATA / "idf_before_mean_shifts.idf").read_bytes()
    flow = _flow(3, seed=4, context=8, context_stages=4)
    header = _Header.parse(data)
    assert not header.shifts and header.version == 6
    image = _patchy((128, 192, 3))
    np.testing.assert_array_equal(Codec(flow, "test-offsets", precision="float32").decompress(data), image)
    again = Codec(flow, "test-offsets", precision="float32", mean_shifts=False).compress(image)
    assert _Header.parse(again).version == 7 and again[2 : header.size] == data[2 : header.size]
    assert len(again) < len(data)
    np.testing.assert_array_equal(Codec(flow, "test-offsets", precision="float32").decompress(again), image)


def test_the_numpy_and_graph_expansions_of_shifts_and_offsets_are_the_same_numbers():
    """The codec keys a split prior's first stage in a graph (`expand`) and its later stages from NumPy
    (`repeat_blocks` of `values`): both must give every position the same float32."""
    index = np.random.default_rng(0).integers(0, 8, (2, 2, 3, 5)).astype(np.int32)
    for module in (mean_shifts, scale_offsets):
        expected = np.asarray(module.expand(index, 40, 70))
        got = scale_offsets.repeat_blocks(module.values(index), 40, 70)
        assert got.dtype == np.float32 and np.array_equal(got, expected)
