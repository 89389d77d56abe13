"""The split priors' scale offsets per block: the encoder's choice against the analytic width of a logistic,
bit-exact round trips where they are used, and what they buy on an image whose noise differs by region."""

import math

import numpy as np
import pytest

from zoo.idf import codec as codec_module
from zoo.idf import scale_offsets
from zoo.idf.codec import Codec
from test_idf_whole_image import _flow, _photo  # noqa: I001 (the test folder is on the path)


@pytest.mark.parametrize("k", [-4, -2, 0, 1, 3])
def test_the_chosen_offset_matches_the_true_width_of_a_logistic(k):
    """Values drawn from a logistic exp(k STEP) times as wide as predicted: the blocks' offset is k STEP (each
    block's mean of 1024 |y - mean| / scale is within 2.7% (one standard error), a quarter of a STEP)."""
    factor = math.exp(k * scale_offsets.STEP)
    rng = np.random.default_rng(0)
    shape = (1, 64, 96, 2)
    log_scale = rng.uniform(1.5, 3.0, shape).astype(np.float32)  # scales 4.5-20: discretization is negligible
    mean = rng.uniform(-20, 20, shape).astype(np.float32)
    u = rng.uniform(1e-6, 1 - 1e-6, shape)
    y = np.round(mean + factor * np.exp(log_scale) * np.log(u / (1 - u)))
    index = scale_offsets.choose(y, mean, log_scale)
    assert index.shape == (1, 2, 3, 2)
    expected = k + scale_offsets.OFFSETS // 2
    assert np.all(np.abs(index - expected) <= 1) and np.mean(index == expected) >= 0.75


def test_offsets_expand_to_their_blocks_and_partial_edges():
    index = np.arange(6, dtype=np.int32).reshape(1, 2, 3, 1)
    offsets = np.asarray(scale_offsets.expand(index, 40, 70))
    assert offsets.shape == (1, 40, 70, 1)
    block = scale_offsets.BLOCK
    assert offsets[0, block - 1, 2 * block, 0] == (2 - scale_offsets.OFFSETS // 2) * scale_offsets.STEP
    assert offsets[0, 39, 69, 0] == (5 - scale_offsets.OFFSETS // 2) * scale_offsets.STEP
    assert scale_offsets.adapts(32, 32) and not scale_offsets.adapts(31, 400)


def _sent_offsets(segments):
    """The scale offsets among the side information of a chunk's segments (`Codec._chunk_segments`)."""
    first = (scale_offsets.MODEL, scale_offsets.FIRST_MODEL)  # without and with mean shifts
    return [symbols for *_, side in segments for symbols, model, _ in side if any(model is m for m in first)]


def _patchy(shape, seed=0):
    """A photograph-like image whose right half carries far more noise than its left half."""
    image = _photo(shape, seed).astype(np.int64)
    noise = np.random.default_rng(seed + 1).integers(-60, 61, shape)
    image[:, shape[1] // 2 :] += noise[:, shape[1] // 2 :]
    return np.clip(image, 0, 255).astype(np.uint8)


def test_offsets_round_trip_bit_exactly_and_shorten_a_stream_whose_noise_differs_by_region():
    codec = Codec(_flow(3, seed=4), "test-offsets")
    image = _patchy((128, 192, 3))  # the first split's latent is 64x96: 2x3 blocks
    data = codec.compress(image)
    np.testing.assert_array_equal(codec.decompress(data), image)
    batch = np.stack([_patchy((128, 192, 3), seed=seed) for seed in range(7)])  # two chunks: 5 tiles, then 2
    assert codec_module._chunk(batch.shape[1:]) == 5
    np.testing.assert_array_equal(codec.decompress(codec.compress(batch)), batch)
    segments = codec._chunk_segments(image[None])
    chosen = _sent_offsets(segments)
    assert len(chosen) == 1 and len(np.unique(chosen[0])) > 1  # the halves got different widths
    plain = Codec(codec.flow, "test-offsets", scale_offsets=False).compress(image)
    assert len(data) < len(plain)  # 3 bits per block and channel bought back and more
    np.testing.assert_array_equal(codec.decompress(plain), image)  # the stream says it has no offsets


@pytest.mark.parametrize("stages, sent", [(2, 6), (4, 3), (8, 3)])
def test_offsets_are_sent_only_for_the_channels_of_the_first_coding_stage(stages, sent):
    """With context, the offsets key the first stage's tables only: a flow coding in 4 stages (the anchors'
    first half of the channels first) sends none for the other half, and still round-trips bit for bit."""
    codec = Codec(_flow(3, seed=4, context=8, context_stages=stages), "test-offsets")
    image = _patchy((128, 192, 3))
    segments = codec._chunk_segments(image[None])
    [chosen] = _sent_offsets(segments)
    assert chosen.shape == (1, 2, 3, sent)  # the first split's latent: 64x96 positions, 6 channels
    np.testing.assert_array_equal(codec.decompress(codec.compress(image)), image)


def test_the_later_stages_offsets_measure_only_their_positions():
    """`where` restricts a block's measure to the given positions: values exact at the first stage's positions
    and twice as wide as predicted at the later ones get the offset of a doubled scale for the later ones."""
    rng = np.random.default_rng(3)
    shape = (1, 64, 64, 2)
    mean, log_scale = np.zeros(shape, np.float32), np.full(shape, 2.0, np.float32)
    later = (np.indices((64, 64)).sum(axis=0) % 2 == 1)[None, :, :, None]  # the checkerboard's second stage
    y = np.where(later, np.round(2.0 * np.exp(2.0) * rng.logistic(size=shape)), 0.0)
    index = scale_offsets.choose(y, mean, log_scale, where=later)
    doubled = round(math.log(2.0) / scale_offsets.STEP) + scale_offsets.OFFSETS // 2
    assert np.all(np.abs(index - min(doubled, scale_offsets.OFFSETS - 1)) <= 1)
    assert np.all(scale_offsets.choose(y, mean, log_scale) < index)  # the exact half pulls the whole block's down


@pytest.mark.parametrize("context, sent", [(8, 6), (0, None)])
def test_streams_with_mean_shifts_send_later_stage_offsets_for_every_channel_of_a_prior_with_context(context, sent):
    codec = Codec(_flow(3, seed=4, context=context, context_stages=4), "test-offsets")
    segments = codec._chunk_segments(_patchy((128, 192, 3))[None])
    later = [symbols for *_, side in segments for symbols, model, _ in side if model is scale_offsets.LATER_MODEL]
    assert [offsets.shape[-1] for offsets in later] == ([sent] if sent else [])
    np.testing.assert_array_equal(codec.decompress(codec.compress(_patchy((128, 192, 3)))), _patchy((128, 192, 3)))
