"""Exact arithmetic for portable streams: the flow's networks computed so that every CPU gets the same bits.

A stream is decodable only where the decoder's networks reproduce the encoder's floats exactly: one
translation rounded the other way, or one table key on the other side of its grid line, and the rest of
the stream decodes to garbage (the CRC refuses it). float32 and bfloat16 convolutions sum their products
in an order, and with instructions, that depend on the CPU (oneDNN picks its kernels by instruction set),
so their streams decode only on CPUs that sum alike (`benchmarks/idf_portability.py`).

Here (`Codec(precision="portable")`) every convolution multiplies integers and sums them in float64 below
2**53, where every sum is exact in any order, on any IEEE-754 machine:
- each kernel is rounded to integers with a power-of-two scale per output channel (`WEIGHT_BITS`);
- each convolution's input is rounded to integers with a power-of-two scale per example, the largest that
  keeps it within `input_bits` bits (found by exact comparisons), and the bias is rounded to the sum's grid;
- so the result is exact, and so are the scalings by powers of two around it;
- the split priors' context nets scale by exp(+-log-scale) from a table of `exp` on a 1/256 grid of the
  log-scale, instead of the platform's exp;
- the entropy tables are built with `exp` and `sigmoid` below, NumPy float64 written with + - * / only
  (correctly rounded everywhere), and row sums taken in one fixed order (`tables`, `portable=True`).
Everything else on the coding path is already exact or one correctly rounded operation: integer latents
in float32, rounding, comparisons, the table keys' grid.

The cost is speed: float64 convolutions run on the general cores, not the bfloat16 units. Kept at 20
bits (weights) and 21-24 (inputs), the published weights need no retraining, and the bits are float32's
(the portable rows of `benchmarks/compression.py --kodak`).

Example:
    >>> portable = exact_copy(flow)            # same weights; its nets run exactly, for coding only
    >>> data = idf.compress(image, precision="portable")
"""

import numpy as np
from keras import ops

WEIGHT_BITS = 20  # a kernel's integers: |w| < 2**19
SUM_BITS = 52  # products and their sums stay below 2**52: exact in float64 in any order
MAX_INPUT_BITS = 24
EXPONENTS = np.arange(-80, 81)  # the power-of-two scales an input may take
_POWERS = np.array([np.ldexp(1.0, int(k)) for k in EXPONENTS])

LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # ln 2 = HI + LO, HI*k exact
INV_LN2 = 1.44269504088896338700e00
_TAYLOR = [1.0 / np.prod(np.arange(1.0, n + 1.0)) for n in range(14)]  # 1/n!, n = 0..13

LOG_SCALE_GRID = 256  # the context nets' exp(+-log-scale) table: steps of 1/256
LOG_SCALE_LOW, LOG_SCALE_HIGH = -8.0, 10.0  # covers layers.LOG_SCALE_RANGE


def exp(x):
    """e**x in float64 from + - * / and exact scalings only, so every IEEE-754 machine gets the same bits
    (NumPy's and the C library's exp differ by CPU); within a few ulps of e**x.

    Example:
        >>> float(exp(np.array([1.0]))[0])
        2.718281828459045
    """
    x = np.clip(np.asarray(x, np.float64), -700.0, 700.0)
    k = np.round(x * INV_LN2)
    r = (x - k * LN2_HI) - k * LN2_LO  # |r| <= ln2 / 2
    p = np.full_like(r, _TAYLOR[-1])
    for c in reversed(_TAYLOR[:-1]):
        p = p * r + c
    return np.ldexp(p, k.astype(np.int64))


def sigmoid(x):
    """1 / (1 + e**-x) with `exp`: the same bits on every machine."""
    return 1.0 / (1.0 + exp(-np.asarray(x, np.float64)))


def _table(sign):
    grid = LOG_SCALE_LOW + np.arange(int((LOG_SCALE_HIGH - LOG_SCALE_LOW) * LOG_SCALE_GRID) + 1) / LOG_SCALE_GRID
    return exp(sign * grid).astype(np.float32)


EXP_TABLE, EXP_NEG_TABLE = _table(1.0), _table(-1.0)


def scale_exp(log_scale, sign=1.0):
    """exp(sign * log_scale) of float32 log-scales, looked up on a 1/256 grid (`keras.ops`, in a graph)."""
    index = ops.cast(ops.round((ops.clip(log_scale, LOG_SCALE_LOW, LOG_SCALE_HIGH) - LOG_SCALE_LOW) * LOG_SCALE_GRID),
                     "int32")
    return ops.take(EXP_TABLE if sign > 0 else EXP_NEG_TABLE, index)


def integer_kernel(kernel):
    """(integer kernel, per output channel exponent e) with kernel ~= integers * 2**-e, |integers| < 2**19."""
    kernel = np.asarray(kernel, np.float64)
    top = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0)
    _, exponent = np.frexp(np.where(top > 0, top, 1.0))  # top < 2**exponent
    e = (WEIGHT_BITS - 1) - exponent
    return np.round(kernel * np.ldexp(1.0, e)), e


def input_bits(fan_in):
    """How many bits a convolution's inputs may keep so that |sum| < 2**SUM_BITS over `fan_in` products."""
    return int(min(MAX_INPUT_BITS, SUM_BITS - (WEIGHT_BITS - 1) - int(np.ceil(np.log2(fan_in)))))


def conv(x, kernel, exponent, bias, bits):
    """The "same" stride-1 convolution of float `x` (N, H, W, C) with an `integer_kernel`'s (`kernel`,
    `exponent`) plus `bias`, computed exactly in float64 on `x` rounded to integers of `bits` bits with the
    largest power-of-two scale per example that fits them; float64 out."""
    x = ops.cast(x, "float64")
    top = ops.max(ops.abs(x), axis=(1, 2, 3))
    limit = float(2 ** (bits - 1) - 1)
    fits = ops.cast(top[:, None] * _POWERS[None, :] <= limit, "int32")  # exact products: powers of two
    a = ops.sum(fits, axis=1) - 1  # the largest fitting exponent's index (the products grow with it)
    scale = ops.take(_POWERS, ops.maximum(a, 0))[:, None, None, None]
    total = ops.conv(ops.round(x * scale), kernel, padding="same")
    grid = scale * ops.convert_to_tensor(np.ldexp(1.0, exponent))  # the sum's unit is 1 / grid, per channel
    unit = ops.take(_POWERS[::-1], ops.maximum(a, 0))[:, None, None, None] * np.ldexp(1.0, -exponent)  # 1 / grid
    return (total + ops.round(ops.cast(bias, "float64") * grid)) * unit  # products by powers of two: exact


def prepare(flow):
    """Make `flow`'s networks compute exactly when called outside training (in place): every `ConvNet`
    through `conv_net`, with its kernels' integers computed now, and every split prior's context from the
    exp table (`scale_exp`). For coding only; `codec.exact_copy` applies it to a copy."""
    from zoo.idf.layers import ConvNet, SplitPrior  # they call this module: imported when it is used

    for layer in flow._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, ConvNet):
            if layer.norm_groups:
                raise ValueError("portable coding needs nets without group normalization (norm_groups=0)")
            for conv_layer in [*layer.hidden_convolutions(), layer.head]:
                kernel, exponent = integer_kernel(ops.convert_to_numpy(conv_layer.kernel))
                fan_in = int(np.prod(kernel.shape[:-1]))
                conv_layer.integer_kernel = (kernel, exponent, input_bits(fan_in))
            layer.exact = True
        elif isinstance(layer, SplitPrior):
            layer.exact = True
    return flow


def conv_net(net, x):
    """A `ConvNet`'s output, float32, every convolution computed by `conv` (`prepare` first)."""
    h = ops.relu(_integer_conv(net.stem, x))
    for inner, outer in zip(net.inner, net.outer):
        h = ops.relu(h + _integer_conv(outer, ops.relu(_integer_conv(inner, h))))
    return ops.cast(_integer_conv(net.head, h), "float32")


def _integer_conv(layer, x):
    kernel, exponent, bits = layer.integer_kernel
    return conv(x, kernel, exponent, layer.bias, bits)
