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


def test_block_sums_and_selected_blocks_agree_with_slicing_on_partial_blocks():
    """Block sums (whole rows first) and the gathered blocks of a 40x70 latent against plain slicing: its last
    row and column of blocks are partial, gathered with their edges repeated and marked outside."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 40, 70, 3)).astype(np.float32)
    block = scale_offsets.BLOCK
    sums = scale_offsets._block_sums(x)
    for r, c in np.ndindex(2, 3):
        piece = x[1, r * block : (r + 1) * block, c * block : (c + 1) * block, 2]
        np.testing.assert_allclose(sums[1, r, c, 2], piece.sum(), rtol=1e-5, atol=1e-4)
    where = (np.array([1, 0]), np.array([1, 0]), np.array([2, 1]), np.array([2, 0]))
    (blocks_of_x, mask_blocks), inside = scale_offsets.selected_blocks([x, x[:1] * 0 + 1], where)
    assert blocks_of_x.shape == inside.shape == (2, block, block)
    np.testing.assert_array_equal(blocks_of_x[0][inside[0]], x[1, 32:40, 64:70, 2].reshape(-1))
    np.testing.assert_array_equal(blocks_of_x[1], x[0, :32, 32:64, 0])
    assert inside[0].sum() == 8 * 6 and inside[1].all() and (mask_blocks == 1).all()


def test_logistic_bits_match_the_coders_tables():
    """The check's ideal bits against the information of the coder's own tables (which round the mean's
    fraction and the log-scale to their grid): within 0.06 bits for every value the tables give more than
    2**-16 (their far tails hold floored counts)."""
    from zoo.idf import tables

    for key in (5, 48 * tables.FRACTIONS + 16, 60 * tables.FRACTIONS + 8):
        low, counts = tables.logistic_table(key)
        level, fraction = divmod(key, tables.FRACTIONS)
        mean = (fraction + 0.5 * tables.fraction_step(level)) / tables.FRACTIONS
        log_scale = tables.LOG_SCALE_MIN + level / tables.SCALE_STEPS
        y = np.arange(low, low + len(counts) - 1, dtype=np.float32)
        expected = tables.PRECISION - np.log2(counts[:-1])
        estimate = scale_offsets.logistic_bits(y, np.float32(mean), np.float32(log_scale))
        likely = expected < 16
        assert likely.sum() >= 2 and np.abs(estimate - expected)[likely].max() < 0.06


def _sharp_block(fraction, spread, seed=0):
    """A 32x32 block of a sharp prior (scale 0.2) whose means sit `fraction` above integers, its values the
    nearest integers plus noise of width `spread`."""
    rng = np.random.default_rng(seed)
    mean = (rng.integers(-5, 5, (1, 32, 32, 1)) + fraction).astype(np.float32)
    y = np.round(mean + spread * rng.logistic(size=mean.shape)).astype(np.float32)
    return y, mean, np.full(mean.shape, math.log(0.2), np.float32)


def test_sharp_blocks_keep_an_offset_only_where_it_saves_bits():
    """Means half-way between integers: the values' distance is the rounding, 0.5 a value, which the rule
    reads as a wide logistic and widens; the check finds that widening costs bits and undoes it. Values truly
    spread five times wider keep their widening, which saves bits."""
    counts = scale_offsets.LATER_COUNTS
    y, mean, log_scale = _sharp_block(0.5, 0.0)
    rule = scale_offsets.choose(y, mean, log_scale)
    assert rule[0, 0, 0, 0] > scale_offsets.OFFSETS // 2
    checked = scale_offsets.choose(y, mean, log_scale, counts=counts)
    assert checked[0, 0, 0, 0] == scale_offsets.OFFSETS // 2

    def cost(index):
        offset = scale_offsets.values(index)
        return scale_offsets.logistic_bits(y, mean, log_scale + offset).sum() - np.log2(counts[index] / counts.sum())

    assert cost(checked[0, 0, 0, 0]) < cost(rule[0, 0, 0, 0])
    y, mean, log_scale = _sharp_block(0.3, 1.0)
    wide = scale_offsets.choose(y, mean, log_scale, counts=counts)
    assert wide[0, 0, 0, 0] == scale_offsets.choose(y, mean, log_scale)[0, 0, 0, 0] > scale_offsets.OFFSETS // 2
