"""Forward-adaptive means: the encoder moves a split prior's means per block of the image.

A prior's mean is a real number and the values it predicts are integers. Where a
region is smooth, or one channel is flat (a clear sky, a channel clipped at
255), the prior is sharp, and a mean that sits a fraction of a unit off the
values there costs on every one of them: a constant latent whose context net
predicts 13.7 with scale 0.13 where every value is 13 pays 2.7 bits per value.
The error is shared by the block, so the encoder measures, for every
`scale_offsets.BLOCK` x BLOCK block of a latent and every channel, how far the
values sit from their coded means (all coding stages: the prior's and its
context net's), and moves that block's means by one of SHIFTS multiples of STEP
lattice units; the shifts travel in the stream ahead of the latent's values,
under fixed frequencies (most blocks need none), and the decoder adds the same
shifts before it picks its tables. The networks never see the shifts.

The choice is the encoder's alone, so it need not be bit-exact: the mean of the
block's residuals y - mean (clipped to +-CLIP, so that a few outliers do not
move it), weighted by 1 / scale, since a sharp logistic pays most for a
misplaced mean, rounded to the grid. A screen of ideal bits on the validation
photographs chose the rule, the grid and the block; `benchmarks/idf_mean_shifts.py`
measures what the shifts save there, coded.

Example:
    >>> index = choose(y, mean, log_scale)              # (N, H/BLOCK, W/BLOCK, C) in [0, SHIFTS)
    >>> mean = mean + expand(index, h, w)               # what encoder and decoder both key their tables with
"""

import constriction
import numpy as np
from keras import ops

from zoo.idf.scale_offsets import block_means, information, per_position, unchanged  # one grid of blocks for both

STEP = 0.25  # lattice units between shifts
SHIFTS = 9  # shifts (k - SHIFTS // 2) * STEP for k in [0, SHIFTS): -1 ... +1
CLIP = 1.5  # residuals beyond +-CLIP count as +-CLIP
# how often each shift was chosen on idf-photos' validation photographs, plus one (`benchmarks/idf_mean_shifts.py`)
COUNTS = np.array([3, 3, 7, 425, 9720, 459, 8, 3, 1])

MODEL = constriction.stream.model.Categorical(COUNTS / COUNTS.sum(), perfect=False)


def choose(y, mean, log_scale):
    """The shift index (int32, (N, rows, columns, C)) of every block and channel of latent `y` (N, H, W, C),
    given the means and log-scales its values are coded with: the grid point nearest to the block's mean
    residual, each residual clipped to +-CLIP and weighted by 1 / scale."""
    y, mean, log_scale = (np.asarray(a, np.float32) for a in (y, mean, log_scale))
    shift = block_means(np.clip(y - mean, -CLIP, CLIP), np.exp(-log_scale))
    return np.clip(np.round(shift / STEP) + SHIFTS // 2, 0, SHIFTS - 1).astype(np.int32)


def expand(index, height, width):
    """The mean shift at every position of a `height` x `width` latent from its blocks' `index` (`keras.ops`,
    float32: encoder and decoder add exactly the same numbers)."""
    return per_position((ops.cast(index, "float32") - SHIFTS // 2) * STEP, height, width)


def values(index):
    """The shift of each block from its `index`, float32 (NumPy; `expand` computes the same numbers)."""
    return (np.asarray(index, np.float32) - SHIFTS // 2) * np.float32(STEP)


def none(shape):
    """The shift index of every block of a latent of `shape` (N, H, W, C) that gets no shifts: all at zero."""
    return unchanged(shape, SHIFTS // 2)


def bits(index):
    """The information content (bits) of each example's shifts, `index` (N, rows, columns, C), in the stream."""
    return information(index, COUNTS)
