"""Discretized logistic distributions on the integer lattice (bin width 1), in log space.

A value k has the probability mass of a logistic between k - 1/2 and k + 1/2:

    P(k) = sigmoid(b) - sigmoid(a),  a = (k - 1/2 - mean) / scale,  b = (k + 1/2 - mean) / scale

computed as  log sigmoid(b) + log sigmoid(-a) + log(1 - exp(a - b)),  an identity
that never subtracts two nearly equal numbers, so a bin's log-probability is
finite however far it lies in a tail; b - a is taken as what it is, 1 / scale,
not as the difference, which float32 loses when the mean is millions of bins
away (a context net's mean on noise).

Example:
    >>> from keras import ops
    >>> logp = discretized_logistic_logp(ops.arange(-2.0, 3.0), mean=0.0, log_scale=0.0)
"""

import math

from keras import ops

LOG2 = math.log(2.0)


def discretized_logistic_logp(x, mean, log_scale):
    """log P(x) of integers `x` under a logistic(mean, exp(log_scale)) discretized to unit bins."""
    inv_scale = ops.exp(-log_scale)
    a = (x - 0.5 - mean) * inv_scale
    b = (x + 0.5 - mean) * inv_scale
    return ops.log_sigmoid(b) + ops.log_sigmoid(-a) + _log1mexp(inv_scale)


def mixture_discretized_logistic_logp(x, means, log_scales, logits):
    """log P(x) under a mixture; the mixture's parameters have one more, last, axis than `x`."""
    component = discretized_logistic_logp(ops.expand_dims(x, -1), means, log_scales)
    return ops.logsumexp(component + ops.log_softmax(logits, axis=-1), axis=-1)


def _log1mexp(d):
    """log(1 - exp(-d)) for d > 0, accurate for small and large d.

    Each branch gets only the inputs it is accurate on, so that neither makes
    an inf (and, through `where`, a NaN gradient) on the other's inputs.
    """
    small = ops.log(-ops.expm1(-ops.minimum(d, LOG2)))
    large = ops.log1p(-ops.exp(-ops.maximum(d, LOG2)))
    return ops.where(d < LOG2, small, large)
