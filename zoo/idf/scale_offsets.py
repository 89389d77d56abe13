"""Forward-adaptive scales: the encoder widens or narrows a split prior's logistics per block of the image.

A split prior predicts each factored-out value's scale from the kept half, which
does not show everything: the noise, grain or texture of one region of one
photograph can be wider or narrower than the kept half suggests. The encoder
therefore measures, for every BLOCK x BLOCK block of a latent and every
channel, how wide the values really are against their predicted scales, and
picks one of OFFSETS log-scale offsets (multiples of STEP) for that block; the
offsets travel in the stream (3 bits each, uniform; with mean shifts, under the
fixed frequencies FIRST_COUNTS and LATER_COUNTS), ahead of the values they
apply to, so the decoder adds the same offsets before it picks its tables.

The choice is the encoder's alone, so it need not be bit-exact: it takes the
offset whose scale matches the block's mean |y - mean| / scale, which for a
logistic of scale s is 2 ln 2 s (within a tenth of the best offset's saving on
the validation photographs). Where the logistics are sharp that reading fails
(the rounding to integers dominates the distance), so with the frequencies the
encoder checks a sharp block's offset against none by their bits (`_checked`).
A latent smaller than one block (a 32x32 tile's) gets no offsets: they would
cost more than they save.

Example:
    >>> index = choose(y, mean, log_scale)             # (N, H/BLOCK, W/BLOCK, C) in [0, OFFSETS)
    >>> log_scale = log_scale + expand(index, h, w)     # what encoder and decoder both key their tables with
"""

import math

import constriction
import numpy as np
from keras import ops

from zoo.idf import tables

BLOCK = 32  # latent positions per block side
STEP = 0.125  # log-scale units between offsets: two steps of the table bank's grid
OFFSETS = 8  # offsets (k - OFFSETS // 2) * STEP for k in [0, OFFSETS): scales x0.61 ... x1.45
SHARP = 0.0  # blocks whose mean log-scale is below this have their offsets checked by their bits (`_checked`);
SHARP_EVERY = 4  # the mean taken over every SHARP_EVERY-th row and column
LOGISTIC_MEAN_ABS = 2.0 * math.log(2.0)  # E|X - mean| / scale of a logistic

MODEL = constriction.stream.model.Uniform(OFFSETS)  # streams without mean shifts: the first stage's, 3 bits each
# streams with mean shifts (`mean_shifts`): the first stage's offsets and the later stages' (one per block and
# channel for all of them), each under fixed frequencies: how often each was chosen on idf-photos' validation
# photographs, plus one (`benchmarks/idf_mean_shifts.py`)
FIRST_COUNTS = np.array([86, 70, 265, 937, 1859, 1400, 556, 145])
LATER_COUNTS = np.array([68, 24, 97, 1269, 5372, 3296, 468, 34])
FIRST_MODEL, LATER_MODEL = (constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)
                            for counts in (FIRST_COUNTS, LATER_COUNTS))


def adapts(height, width):
    """Whether a latent of `height` x `width` positions gets offsets: at least one whole block."""
    return height >= BLOCK and width >= BLOCK


def blocks(height, width):
    """(rows, columns) of blocks over a latent; the last row and column may be partial."""
    return -(-height // BLOCK), -(-width // BLOCK)


def choose(y, mean, log_scale, where=None, counts=None):
    """The offset index (int32, (N, rows, columns, C)) of every block and channel of latent `y` (N, H, W, C),
    given its prior's `mean` and `log_scale`: the one nearest to log(mean |y - mean| / scale / 2 ln 2), the
    mean taken over the positions `where` (a mask (1 or N, H, W, C); all by default). With the offsets'
    frequencies `counts`, a sharp block keeps its offset only where that saves bits (`_checked`)."""
    y, mean, log_scale = (np.asarray(a, np.float32) for a in (y, mean, log_scale))
    weights = None if where is None else np.asarray(where, np.float32)
    mean_ratio = block_means(np.abs(y - mean) * np.exp(-log_scale), weights)
    k = np.round(np.log(np.maximum(mean_ratio, 1e-6) / LOGISTIC_MEAN_ABS) / STEP) + OFFSETS // 2
    k = np.clip(k, 0, OFFSETS - 1).astype(np.int32)
    return k if counts is None else _checked(k, y, mean, log_scale, weights, counts)


def _checked(index, y, mean, log_scale, weights, counts):
    """`index`, each sharp block's offset undone (set to the middle, no offset) where it does not save bits.

    The rule reads a block's spread as a logistic's, which holds for wide logistics; for sharp ones (scale
    under a lattice unit) the values' distance from a mean between two integers is mostly the rounding, so
    the rule widens where it should not. For a block whose mean log-scale (on every SHARP_EVERY-th row and
    column) is below SHARP, the encoder compares the ideal bits of its values (`weights`: which count; all if
    None) with and without the offset, plus the offset's own bits under the frequencies `counts`."""
    middle = len(counts) // 2
    sharp = block_means(log_scale[:, ::SHARP_EVERY, ::SHARP_EVERY], block=BLOCK // SHARP_EVERY) < SHARP
    moved = np.nonzero((index != middle) & sharp)
    if not len(moved[0]):
        return index
    (y, mean, log_scale, *mask), inside = selected_blocks([y, mean, log_scale, *([] if weights is None else [weights])],
                                                          moved)
    offset = values(index[moved])[:, None, None]
    saved = logistic_bits(y, mean, log_scale) - logistic_bits(y, mean, log_scale + offset)
    gain = (saved * inside * (mask[0] if mask else 1.0)).sum(axis=(1, 2))
    side_bits = symbol_bits(counts)
    index = index.copy()
    index[tuple(m[gain <= side_bits[index[moved]] - side_bits[middle]] for m in moved)] = middle
    return index


def logistic_bits(y, mean, log_scale):
    """-log2 P(y) of integers y under discretized logistics (`mean`, `log_scale`), float32, the log-scale
    clipped and P floored as the coder's tables clip and floor them (an estimate: the tables also round the
    means and scales)."""
    distance = np.abs(y - mean)  # P is symmetric: measured on the side where it is accurate in float32
    inverse_scale = np.exp(-np.clip(log_scale, tables.LOG_SCALE_MIN, tables.LOG_SCALE_MAX))
    with np.errstate(over="ignore"):
        upper, lower = (1.0 / (1.0 + np.exp((distance + sign) * inverse_scale)) for sign in (-0.5, 0.5))
    return -np.log2(np.maximum(upper - lower, np.float32(1.0 / tables.TOTAL)))


def symbol_bits(counts):
    """The information content (bits) of each symbol under fixed frequencies `counts`."""
    return -np.log2(counts / counts.sum())


def information(index, counts):
    """The information content (bits) of each example's blocks' `index` (N, rows, columns, C) under fixed
    frequencies `counts`."""
    return symbol_bits(counts)[index].reshape(len(index), -1).sum(axis=1)


def unchanged(shape, middle):
    """The index `middle` (no change) for every block and channel of a latent of `shape` (N, H, W, C)."""
    n, h, w, c = shape
    return np.full((n, *blocks(h, w), c), middle, np.int32)


def none(shape):
    """The offset index of every block of a latent of `shape` that gets no offsets: all at zero."""
    return unchanged(shape, OFFSETS // 2)


def block_means(values, weights=None, block=BLOCK):
    """The (`weights`-weighted) mean of `values` (N, H, W, C) over each `block` x `block` block and channel,
    (N, rows, columns, C); a partial last row or column of blocks averages what it has."""
    if weights is None:
        rows, cols = (np.minimum(block, side - block * np.arange(-(-side // block))) for side in values.shape[1:3])
        return _block_sums(values, block) / np.outer(rows, cols).astype(np.float32)[None, :, :, None]
    return _block_sums(values * weights, block) / np.maximum(_block_sums(weights, block), 1e-30)


def values(index):
    """The log-scale offset of each block from its `index`, float32 (NumPy; `expand` computes the same numbers)."""
    return (np.asarray(index, np.float32) - OFFSETS // 2) * np.float32(STEP)


def expand(index, height, width):
    """The log-scale offset at every position of a `height` x `width` latent from its blocks' `index`
    (`keras.ops`, float32: encoder and decoder add exactly the same numbers)."""
    return per_position((ops.cast(index, "float32") - OFFSETS // 2) * STEP, height, width)


def per_position(per_block, height, width):
    """A (N, rows, columns, C) tensor of one value per block, repeated over the block's positions of a
    `height` x `width` latent (`keras.ops`)."""
    n, rows, cols, channels = ops.shape(per_block)
    per_block = ops.broadcast_to(per_block[:, :, None, :, None, :], (n, rows, BLOCK, cols, BLOCK, channels))
    return ops.reshape(per_block, (n, rows * BLOCK, cols * BLOCK, channels))[:, :height, :width]


def repeat_blocks(per_block, height, width):
    """`per_position` in NumPy, for the encoder's and decoder's NumPy side (the same numbers)."""
    per_block = np.asarray(per_block)
    return np.repeat(np.repeat(per_block, BLOCK, axis=1), BLOCK, axis=2)[:, :height, :width]


def selected_blocks(arrays, where):
    """([the blocks of x at `where`, (K, BLOCK, BLOCK), for x in `arrays`], which of their positions are in
    the latent (K, BLOCK, BLOCK), bool): `arrays` (N or 1, H, W, C), `where` the (examples, rows, columns,
    channels) index arrays of K blocks. Partial blocks repeat their last row and column to fill."""
    example, row, col, channel = where
    h, w = arrays[0].shape[1:3]
    i, j = (start[:, None] * BLOCK + np.arange(BLOCK) for start in (row, col))
    inside = (i < h)[:, :, None] & (j < w)[:, None, :]
    index = (np.minimum(i, h - 1)[:, :, None], np.minimum(j, w - 1)[:, None, :], channel[:, None, None])
    return [x[(example if len(x) > 1 else 0 * example)[:, None, None], *index] for x in arrays], inside


def _block_sums(x, block=BLOCK):
    """The sums of x (N, H, W, C) over each `block` x `block` block and channel, (N, rows, columns, C)."""
    n, h, w, c = x.shape
    rows, cols = -(-h // block), -(-w // block)
    if (h, w) != (rows * block, cols * block):  # partial blocks: pad them with zeros
        x = np.pad(x, ((0, 0), (0, rows * block - h), (0, cols * block - w), (0, 0)))
    rows_summed = x.reshape(n * rows, block, cols * block, c).sum(axis=1)  # summing whole rows first: fast
    return rows_summed.reshape(n, rows, cols, block, c).sum(axis=3)
