"""Monotone rational-quadratic splines (Durkan et al. 2019) with linear tails, in `keras.ops`.

On [-bound, bound] the map is `bins` rational-quadratic pieces through knots
whose widths, heights and inner derivatives come from unconstrained
parameters; outside it is the identity (the boundary derivatives are 1, so the
map is continuously differentiable). It is strictly increasing, so it has an
exact inverse, solved per piece as a quadratic.

Example:
    >>> y, log_derivative = rational_quadratic(x, widths, heights, derivatives, bound=10.0)
    >>> x_again, _ = rational_quadratic(y, widths, heights, derivatives, bound=10.0, inverse=True)
"""

import math

from keras import ops

MIN_WIDTH = MIN_HEIGHT = MIN_DERIVATIVE = 1e-3


def _knots(unnormalized, bound, minimum):
    bins = unnormalized.shape[-1]
    sizes = minimum + (1 - minimum * bins) * ops.softmax(unnormalized, axis=-1)
    cumulative = ops.cumsum(sizes, axis=-1)
    zero = ops.zeros_like(cumulative[..., :1])
    knots = 2 * bound * ops.concatenate([zero, cumulative], axis=-1) - bound
    # pin the ends exactly
    knots = ops.concatenate([ops.full_like(zero, -bound), knots[..., 1:-1], ops.full_like(zero, bound)], axis=-1)
    return knots, knots[..., 1:] - knots[..., :-1]


def _pick(values, index):
    """values[..., index] with `values` broadcast against `index` (a one-hot sum: the parameters are not
    copied once per example, and their gradient is a sum over the batch)."""
    return ops.sum(values * ops.one_hot(index, values.shape[-1]), axis=-1)


def rational_quadratic(x, unnormalized_widths, unnormalized_heights, unnormalized_derivatives, bound, inverse=False):
    """(y, log |dy/dx|) elementwise; parameters broadcast against x with a trailing axis of bins (bins - 1
    for the derivatives). With `inverse=True`, x is the spline's output, y its input, and the log-derivative
    is that of the inverse."""
    edge = math.log(math.expm1(1 - MIN_DERIVATIVE))  # softplus(edge) + MIN_DERIVATIVE == 1: linear tails
    edges = ops.full_like(unnormalized_derivatives[..., :1], edge)
    derivatives = MIN_DERIVATIVE + ops.softplus(ops.concatenate([edges, unnormalized_derivatives, edges], axis=-1))
    cum_w, widths = _knots(unnormalized_widths, bound, MIN_WIDTH)
    cum_h, heights = _knots(unnormalized_heights, bound, MIN_HEIGHT)

    inside = ops.logical_and(x >= -bound, x <= bound)
    xc = ops.clip(x, -bound, bound)
    locations = cum_h if inverse else cum_w
    bins = widths.shape[-1]
    index = ops.sum(ops.cast(xc[..., None] >= locations[..., 1:-1], "int32"), axis=-1)
    index = ops.clip(index, 0, bins - 1)

    x0, w = _pick(cum_w, index), _pick(widths, index)
    y0, h = _pick(cum_h, index), _pick(heights, index)
    d0, d1 = _pick(derivatives, index), _pick(derivatives, index + 1)
    delta = h / w
    if not inverse:
        theta = (xc - x0) / w
        t1 = theta * (1 - theta)
        denominator = delta + (d0 + d1 - 2 * delta) * t1
        out = y0 + h * (delta * theta**2 + d0 * t1) / denominator
        slope = delta**2 * (d1 * theta**2 + 2 * delta * t1 + d0 * (1 - theta) ** 2)
        log_derivative = ops.log(slope) - 2 * ops.log(denominator)
    else:
        shifted = xc - y0
        a = h * (delta - d0) + shifted * (d0 + d1 - 2 * delta)
        b = h * d0 - shifted * (d0 + d1 - 2 * delta)
        c = -delta * shifted
        root = 2 * c / (-b - ops.sqrt(ops.maximum(b**2 - 4 * a * c, 0.0)))
        theta = root
        out = root * w + x0
        t1 = theta * (1 - theta)
        denominator = delta + (d0 + d1 - 2 * delta) * t1
        slope = delta**2 * (d1 * theta**2 + 2 * delta * t1 + d0 * (1 - theta) ** 2)
        log_derivative = -(ops.log(slope) - 2 * ops.log(denominator))
    out = ops.where(inside, out, x)
    log_derivative = ops.where(inside, log_derivative, ops.zeros_like(x))
    return out, log_derivative
