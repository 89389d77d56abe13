"""Integer probability tables for entropy coding the flow's latents, identical for encoder and decoder.

Each symbol is coded within a window of `width` integers starting at `low`,
plus one escape entry holding the tail mass outside the window. Probabilities
are quantized to integer counts that sum to 2**PRECISION, every entry at least
1, so every value keeps a nonzero probability. A value outside its window is
coded as the escape entry followed by its distance beyond the window (`escapes`).

The split priors' logistics differ per symbol; rather than a table per symbol,
each (mean, log-scale) is snapped to a grid: the mean's integer part shifts
the window, its fractional part and the log-scale (1/SCALE_STEPS steps) pick
one of a bank of tables. The fraction's grid is 1/FRACTIONS for scales up to
1 and coarser for wider logistics, one step per doubling of the scale
(`fraction_step`): a mean's offset matters in proportion to the scale, and
the fewer tables a latent uses, the fewer calls the coder makes (symbols that
share a table are coded together). The snapping costs far under 0.1% of the
rate.
The keys are float32 `keras.ops` arithmetic that the codec compiles into the
split priors' graph, the tables NumPy float64 built from the keys alone; both
sides compute both identically, so both sides pick the same tables.

Example:
    >>> base, key = logistic_keys(np.array([3.2]), np.array([1.0]))
    >>> low, counts = logistic_table(int(np.asarray(key)[0]))
    >>> int(counts.sum())
    16777216
"""

import numpy as np
from keras import ops

from zoo.idf import exact

PRECISION = 24
TOTAL = 1 << PRECISION
TAIL_SCALES = 12.0  # a window spans mean +- 12 scales: the tails outside hold ~1e-5 of the mass
MIN_WIDTH, MAX_WIDTH, WIDTH_STEP = 16, 4096, 16
FRACTIONS = 32  # grid of the mean's fractional part
SCALE_STEPS = 16  # grid of the log-scale, per unit
LOG_SCALE_MIN, LOG_SCALE_MAX = -3.0, 8.0  # scales from 0.05 to 3000 lattice units
SCALE_LEVELS = int((LOG_SCALE_MAX - LOG_SCALE_MIN) * SCALE_STEPS) + 1
MAX_BASE = 1 << 30  # window bases are clipped to +-2**30 (int32)
COARSE_FROM = 48  # the scale level (scale 1) from which the mean's fraction grid coarsens
COARSE_EVERY = 11  # scale levels per doubling of the scale (16 ln 2), and of the fraction grid's step
MAX_COARSENING = 5  # the coarsest grid: one table per scale level (step FRACTIONS)


def window_widths(log_scale, portable=False):
    """The window width for each logistic scale, rounded up to a multiple of WIDTH_STEP (`portable`: with
    `exact.exp`, the same on every machine)."""
    span = 2.0 * TAIL_SCALES * (exact.exp if portable else np.exp)(log_scale)
    widths = WIDTH_STEP * np.ceil(span / WIDTH_STEP)
    return np.clip(widths, MIN_WIDTH, MAX_WIDTH).astype(np.int64)


def logistic_keys(mean, log_scale):
    """(base, key) per symbol, int32: the window is placed relative to `base`; `key` names its table.

    Written with `keras.ops` in float32, so the codec computes it inside the compiled split-prior
    graph (encoder and decoder run the same graph on the same input, so they pick the same tables).
    """
    mean, log_scale = ops.convert_to_tensor(mean, "float32"), ops.convert_to_tensor(log_scale, "float32")
    base = ops.clip(ops.floor(mean), -MAX_BASE, MAX_BASE)  # a mean that far off escapes every window anyway
    fraction = ops.clip(ops.floor((mean - base) * FRACTIONS), 0, FRACTIONS - 1)
    level = ops.clip(ops.round((log_scale - LOG_SCALE_MIN) * SCALE_STEPS), 0, SCALE_LEVELS - 1)
    # integer and power-of-two arithmetic only, exact on every machine (a division may be approximate on some)
    doublings = ops.clip(ops.floor_divide(ops.cast(level, "int32") - COARSE_FROM, COARSE_EVERY) + 1, 0, MAX_COARSENING)
    step, inverse_step = ops.take(_STEPS, doublings), ops.take(1.0 / _STEPS, doublings)
    fraction = ops.floor(fraction * inverse_step) * step
    return ops.cast(base, "int32"), ops.cast(level * FRACTIONS + fraction, "int32")


def fraction_step(level):
    """The step of the mean's fraction grid (in 1/FRACTIONS) at scale level `level`: 1 up to a scale of
    1, doubling with the scale after that, at most FRACTIONS (one table per scale level)."""
    return 2 ** min(max((level - COARSE_FROM) // COARSE_EVERY + 1, 0), MAX_COARSENING)


def logistic_table(key, portable=False):
    """(low, counts) of table `key`: values base + low ... base + low + width - 1, then the escape.
    `portable`: built with `exact`'s exp and sums in one order, the same counts on every machine."""
    level, fraction = divmod(int(key), FRACTIONS)
    mean = (fraction + 0.5 * fraction_step(level)) / FRACTIONS  # the middle of the fraction's bin
    log_scale = LOG_SCALE_MIN + level / SCALE_STEPS
    width = int(window_widths(log_scale, portable))
    low = int(np.round(mean)) - width // 2
    edges = low + np.arange(width + 1) - 0.5
    if portable:
        cdf = exact.sigmoid((edges - mean) * exact.exp(-log_scale))
    else:
        cdf = _sigmoid((edges - mean) * np.exp(-log_scale))
    return low, _quantize(np.diff(cdf)[None], np.array([1.0 - (cdf[-1] - cdf[0])]), portable)[0]


def mixture_tables(means, log_scales, logits, portable=False):
    """(low, counts) for mixtures of discretized logistics, one row per symbol; components on the last axis.
    `portable`: built with `exact`'s exp and sums in one order, the same counts on every machine."""
    means, log_scales, logits = (np.asarray(a, np.float64) for a in (means, log_scales, logits))
    exp = exact.exp if portable else np.exp
    weights = exp(logits - logits.max(-1, keepdims=True))
    weights /= _last_axis_sum(weights, portable)[..., None]
    scales = exp(log_scales)
    lo = np.floor((means - TAIL_SCALES * scales).min(-1))
    hi = np.ceil((means + TAIL_SCALES * scales).max(-1))
    width = int(np.clip(WIDTH_STEP * np.ceil((hi - lo).max() / WIDTH_STEP), MIN_WIDTH, MAX_WIDTH))
    center = np.round(_last_axis_sum(weights * means, portable))
    low = np.clip(center - width // 2, lo, np.maximum(lo, hi - width)).astype(np.int64)
    edges = low[:, None] + np.arange(width + 1) - 0.5
    sigmoid = exact.sigmoid if portable else _sigmoid
    cdf = _last_axis_sum(weights[:, None, :] * sigmoid((edges[..., None] - means[:, None, :]) / scales[:, None, :]),
                         portable)
    return low, _quantize(np.diff(cdf, axis=1), 1.0 - (cdf[:, -1] - cdf[:, 0]), portable)


def _last_axis_sum(x, portable):
    """x summed over its last axis; `portable`: term by term in index order (NumPy's sum may pair terms
    differently on other CPUs)."""
    return np.cumsum(x, axis=-1)[..., -1] if portable else x.sum(-1)


_STEPS = np.array([2.0**k for k in range(MAX_COARSENING + 1)], np.float32)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _quantize(probs, tail, portable=False):
    """Integer counts >= 1 per entry (the last entry is the escape), each row summing to TOTAL."""
    probs = np.concatenate([probs, np.maximum(tail, 0.0)[:, None]], axis=1)
    probs /= _last_axis_sum(probs, portable)[:, None]
    n = probs.shape[1]
    counts = np.floor(probs * (TOTAL - n)).astype(np.int64) + 1
    rows = np.arange(len(counts))
    counts[rows, counts.argmax(axis=1)] += TOTAL - counts.sum(axis=1)
    return counts


def to_symbols(values, low, width):
    """Window indices of integer `values`; `width` (the escape) where a value falls outside."""
    index = values.astype(np.int64) - low
    outside = (index < 0) | (index >= width)
    return np.where(outside, width, index).astype(np.int32), outside
