"""The layers of an Integer Discrete Flow. Every flow layer maps integers to integers and has an exact `inverse`.

Tensors hold integers in float32 (exact up to 2**24). Pixels x in {0..255}
enter as x - 128, so one lattice unit is one grey level.

Example:
    >>> coupling = IntegerCoupling(width=64, depth=1)
    >>> z = keras.ops.convert_to_tensor(np.random.randint(-128, 128, (2, 16, 16, 12)), "float32")
    >>> bool(keras.ops.all(coupling.inverse(coupling(z)) == z))
    True
"""

import keras
import numpy as np
from keras import ops

from zoo.idf import exact
from zoo.idf.distributions import discretized_logistic_logp, mixture_discretized_logistic_logp

SCALE = 256.0  # networks see and emit values in units of the 256-level range
LOG_32 = 3.4657359027997265  # ln 32, the priors' log-scale offset, written out: one constant on every machine
THIN_OUTPUTS = 8  # a network head with fewer output channels is a `ThinConv2D`
_serializable = keras.saving.register_keras_serializable(package="zoo.idf")


@ops.custom_gradient
def round_straight_through(x):
    """round(x) forward, exactly; identity gradient backward (the straight-through estimator).

    Not written as x + stop_gradient(round(x) - x): that is exact in IEEE arithmetic only as written, and
    TensorFlow's graph optimizer may regroup a chain of additions (z + (x + (round(x) - x)) into one AddN),
    which leaves a latent a few 1e-6 off an integer and made the codec's encoder and decoder disagree."""

    def grad(*args, upstream=None):
        return args[0] if upstream is None else upstream

    return ops.round(x), grad


@_serializable
class Squeeze(keras.layers.Layer):
    """Space to depth: (B, H, W, C) -> (B, H/2, W/2, 4C), each 2x2 patch into channels."""

    def call(self, x):
        c = x.shape[-1]
        h, w = _spatial(x)
        x = ops.reshape(x, (-1, h // 2, 2, w // 2, 2, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, h // 2, w // 2, 4 * c))

    def inverse(self, x):
        c = x.shape[-1] // 4
        h, w = _spatial(x)
        x = ops.reshape(x, (-1, h, w, 2, 2, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, 2 * h, 2 * w, c))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, h // 2 if h else None, w // 2 if w else None, 4 * c)


def _spatial(x):
    """(H, W) of an NHWC tensor: static where known, else the runtime values (images of any size)."""
    h, w = x.shape[1:3]
    if h is None or w is None:
        shape = ops.shape(x)
        h, w = shape[1] if h is None else h, shape[2] if w is None else w
    return h, w


@_serializable
class ChannelPermutation(keras.layers.Layer):
    """A fixed random permutation of the channels, drawn from `seed`."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def build(self, input_shape):
        # Drawn once, for a fresh layer; a loaded checkpoint overwrites both with its own, so a saved flow
        # never depends on a random generator.
        order = np.random.default_rng(self.seed).permutation(input_shape[-1])
        self.order = self.add_weight(name="order", shape=order.shape, dtype="int32", trainable=False,
                                     initializer=keras.initializers.Constant(order))
        self.inverse_order = self.add_weight(name="inverse_order", shape=order.shape, dtype="int32", trainable=False,
                                             initializer=keras.initializers.Constant(np.argsort(order)))

    def call(self, x):
        return _take_channels(x, self.order)

    def inverse(self, x):
        return _take_channels(x, self.inverse_order)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _split_channels(x, at):
    """(x[..., :at], x[..., at:]) of an NHWC tensor, as one split: TensorFlow's gradient of a strided slice
    (StridedSliceGrad) took an eighth of an `idf-photos` training step on CPUs, a split's (a concatenation)
    next to nothing."""
    return ops.split(x, [at], axis=-1)


def _take_channels(x, order):
    """x[..., order] of an NHWC tensor, moving whole channel planes: TensorFlow's CPU gather along the last
    axis copies one float at a time and took 6 ms on a 256x384x12 latent, this 1.4 ms (a product with a
    permutation matrix is faster still, but GPUs may run float32 products in TF32, which rounds integers
    above 2048: the flow would no longer be exactly invertible)."""
    return ops.transpose(ops.take(ops.transpose(x, (3, 0, 1, 2)), order, axis=0), (1, 2, 3, 0))


@_serializable
class ThinConv2D(keras.layers.Conv2D):
    """A stride-1 "same" convolution for few output channels that, outside training, is computed as one
    matrix product of the input with every tap's kernel at once, then a depthwise convolution that moves
    each tap's outputs to its offset, then their sum.

    The same function as `keras.layers.Conv2D` with the same weights (the sums in another order, so
    equal within float rounding). The convolution kernels TensorFlow runs on CPUs (oneDNN) pad the
    output channels to 16, so a 3x3 convolution from 128 to 3 channels costs what one to 16 does;
    `benchmarks/idf_layer_speed.py` measures both ways at the shapes `idf-photos` runs. Its gradient,
    though, is the slower one, so in training (`training=True`, as `fit` calls it) it is an ordinary
    convolution. With 12 outputs the product is the slower, so `ConvNet` uses it only for heads of
    fewer than `THIN_OUTPUTS` channels.

    Example:
        >>> conv = ThinConv2D(3, 3, padding="same")
        >>> conv(np.zeros((1, 8, 8, 128), "float32")).shape
        (1, 8, 8, 3)
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if self.strides != (1, 1) or self.dilation_rate != (1, 1) or self.padding != "same" \
                or self.data_format != "channels_last" or self.groups != 1 or any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError("ThinConv2D takes odd kernel sizes, stride 1, no dilation or groups, "
                             "padding='same' and channels_last")

    def call(self, inputs, training=None):
        if training:
            return super().call(inputs)
        kh, kw, cin, cout = self.kernel.shape
        taps = ops.matmul(inputs, ops.reshape(ops.transpose(self.kernel, (2, 0, 1, 3)), (cin, kh * kw * cout)))
        shifted = ops.depthwise_conv(taps, _tap_shifts(kh, kw, cout), padding="same")
        h, w = _spatial(inputs)
        outputs = ops.sum(ops.reshape(shifted, (-1, h, w, kh * kw, cout)), axis=3)
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs if self.activation is None else self.activation(outputs)


def bfloat16_conv(conv, x, refine=True):
    """`conv(x)` of a stride-1 "same" `Conv2D` from bfloat16 products summed in float32, as float32.

    A bfloat16 convolution rounds its result to bfloat16 (8 bits), which would move a coupling's
    translations by up to a quarter of a lattice unit. With `refine`, a second convolution computes that
    rounding's error: its input is x with the rounded result appended as extra channels, weighted -1 at
    the centre tap, so its float32 sum is the first result's error before it too is rounded; the two
    results add up, in float32, to the float32 convolution of x and the kernel rounded to bfloat16, to
    about 16 bits. Without, the 8-bit result (half the work). On CPUs with bfloat16 matrix units (AMX)
    either costs a fraction of a float32 convolution.

    Example:
        >>> conv = keras.layers.Conv2D(3, 3, padding="same")
        >>> h = keras.ops.cast(np.random.rand(1, 8, 8, 16), "bfloat16")
        >>> bfloat16_conv(conv, h).dtype    # close to conv(h) in float32 with a bfloat16 kernel
        'float32'
    """
    if not conv.built:
        conv.build(x.shape)
    if tuple(conv.strides) != (1, 1) or tuple(conv.dilation_rate) != (1, 1) or conv.padding != "same" \
            or conv.data_format != "channels_last" or conv.groups != 1:
        raise ValueError("bfloat16_conv takes stride-1, undilated, ungrouped 'same' convolutions, channels_last")
    x = ops.cast(x, "bfloat16")
    kernel = ops.cast(conv.kernel, "bfloat16")
    rounded = ops.conv(x, kernel, padding="same")
    out = ops.cast(rounded, "float32")
    if refine:
        kh, kw, _, cout = kernel.shape
        minus = np.zeros((kh, kw, cout, cout), "float32")
        minus[kh // 2, kw // 2] = -np.eye(cout)
        error = ops.conv(ops.concatenate([x, rounded], axis=-1),
                         ops.concatenate([kernel, ops.cast(minus, "bfloat16")], axis=2), padding="same")
        out = out + ops.cast(error, "float32")
    return out + conv.bias if conv.use_bias else out


def _tap_shifts(kh, kw, cout):
    """The depthwise kernel that moves tap (i, j)'s `cout` outputs to offset (i, j): one 1 per channel
    (products by 1 and 0 and sums of zeros are exact, so only the order of the taps' sum changes)."""
    shifts = np.zeros((kh, kw, kh * kw * cout, 1), "float32")
    i, j, c = np.meshgrid(range(kh), range(kw), range(cout), indexing="ij")
    shifts[i, j, (i * kw + j) * cout + c, 0] = 1.0
    return shifts


@_serializable
class ConvNet(keras.layers.Layer):
    """conv3x3 -> `depth` residual blocks -> conv3x3. The last one is zero-initialised (so the flow starts as
    the identity) unless `zero_head=False`. With `norm_groups`, a group normalization (IDF++) follows every
    hidden convolution: it normalizes over the whole image, the same on encode and decode, and keeps the
    net independent of the position."""

    def __init__(self, out_channels, width, depth, norm_groups=0, zero_head=True, **kwargs):
        super().__init__(**kwargs)
        self.out_channels, self.width, self.depth = out_channels, width, depth
        self.norm_groups, self.zero_head = norm_groups, zero_head
        if norm_groups and width % norm_groups:
            raise ValueError(f"norm_groups={norm_groups} must divide the width {width}")
        conv = lambda n: keras.layers.Conv2D(n, 3, padding="same")  # noqa: E731
        norm = lambda: keras.layers.GroupNormalization(norm_groups) if norm_groups else keras.layers.Identity()  # noqa: E731
        self.stem, self.stem_norm = conv(width), norm()
        self.inner, self.inner_norms = [conv(width) for _ in range(depth)], [norm() for _ in range(depth)]
        self.outer, self.outer_norms = [conv(width) for _ in range(depth)], [norm() for _ in range(depth)]
        head = ThinConv2D if out_channels < THIN_OUTPUTS else keras.layers.Conv2D
        self.head = head(out_channels, 3, padding="same", kernel_initializer="zeros" if zero_head else "glorot_uniform")

    bfloat16_head = None  # None, "rounded" or "refined": set by `IntegerDiscreteFlow.set_mixed_precision(True,
    # heads=True)` for coding (`bfloat16_conv`); not in the config
    exact = False  # set by `exact.prepare` for portable coding (`exact.conv_net`); not in the config

    def hidden_convolutions(self):
        """Every convolution but the head (the ones `IntegerDiscreteFlow.set_mixed_precision` may run in bfloat16)."""
        return [self.stem, *self.inner, *self.outer]

    def set_precision(self, policy, bfloat16_head=None):
        """Run the hidden convolutions in dtype policy `policy` ("float32" or "mixed_bfloat16") and the head as
        `bfloat16_head` says (None: in float32; "rounded" or "refined": `bfloat16_conv`, outside training)."""
        for conv in self.hidden_convolutions():
            conv.dtype_policy = policy
        self.bfloat16_head = bfloat16_head

    def call(self, x, training=None):
        if self.exact and not training:
            return exact.conv_net(self, x)
        h = ops.relu(self._norm(self.stem_norm, self.stem(x)))
        for inner, inner_norm, outer, outer_norm in zip(self.inner, self.inner_norms, self.outer, self.outer_norms):
            h = ops.relu(h + self._norm(outer_norm, outer(ops.relu(self._norm(inner_norm, inner(h))))))
        if self.bfloat16_head and not training:
            return bfloat16_conv(self.head, h, refine=self.bfloat16_head == "refined")
        return self.head(h)

    def _norm(self, norm, h):
        """norm(h), or h itself without norms: an `Identity` layer would cast a bfloat16 h to float32 and back,
        which costs more than the bfloat16 convolutions save."""
        return norm(h) if self.norm_groups else h

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels, "width": self.width, "depth": self.depth,
                "norm_groups": self.norm_groups, "zero_head": self.zero_head}


@_serializable
class IntegerCoupling(keras.layers.Layer):
    """Translate the last quarter of the channels by round(t(first three quarters)).

    Forward: z2 + round(t(z1)); inverse: z2 - round(t(z1)), with the very same
    t, so the inverse is exact. Training sees t's gradient through the
    straight-through estimator.

    The coupling starts as the identity: t's last convolution is zero-initialised, or, with `rezero=True`
    (IDF++), t is a learned scalar gain, starting at 0, times a net initialised as usual. `norm_groups`
    puts group normalization in the net (see `ConvNet`).
    """

    def __init__(self, width, depth, rezero=False, norm_groups=0, **kwargs):
        super().__init__(**kwargs)
        self.width, self.depth, self.rezero, self.norm_groups = width, depth, rezero, norm_groups

    def build(self, input_shape):
        channels = input_shape[-1]
        self.keep = channels - channels // 4
        self.net = ConvNet(channels - self.keep, self.width, self.depth, self.norm_groups, zero_head=not self.rezero,
                           name="net")
        if self.rezero:
            self.gain = self.add_weight(name="gain", shape=(), initializer="zeros")

    def translation(self, z1):
        t = self.net(z1 / SCALE) * SCALE
        return self.gain * t if self.rezero else t

    def call(self, z):
        z1, z2 = _split_channels(z, self.keep)
        return ops.concatenate([z1, z2 + round_straight_through(self.translation(z1))], axis=-1)

    def inverse(self, z):
        z1, z2 = _split_channels(z, self.keep)
        return ops.concatenate([z1, z2 - ops.round(self.translation(z1))], axis=-1)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "depth": self.depth, "rezero": self.rezero,
                "norm_groups": self.norm_groups}


LOG_SCALE_RANGE = (-7.0, 9.0)  # scales from 1e-3 to 8e3 lattice units


@_serializable
class SplitPrior(keras.layers.Layer):
    """Factor out half the channels: y = z[..., C/2:], modelled by a discretized logistic whose
    mean and scale a network predicts from the half that stays, z[..., :C/2].

    With `context` (a width; 0 for none), y is coded in `stages` stages (`coding_stages`: 2, the two halves
    of a checkerboard; 4, each half again in two halves of the channels; 8, the four positions of each 2x2
    block, each in two halves of the channels): the first by the prior above;
    every later one by a second network (two 3x3 convolutions, `context` wide; the codec runs it once per
    later stage, and at the first split its passes cost about what the flow's do) that corrects the prior's
    mean and log-scale from what the decoder has by then: the kept half, the prior's parameters, and the
    earlier stages' values, seen as their residuals (y - mean) / scale and their sizes |y - mean| / scale,
    and where they are. The residuals show how wide the values of this region really are, which the kept
    half alone does not. The context net's last
    convolution starts at zero, so a prior with context starts as the prior without; one net serves every
    stage, and its inputs are the same for any `stages`, so a net fitted for one count starts another.

    `call(z)` returns (kept half, y, log P(y) per example).

    Example:
        >>> prior = SplitPrior(width=16, depth=0, context=16, stages=4)
        >>> kept, y, logp = prior(z)                 # z: (N, H, W, C) integers in float32
        >>> mean, log_scale = prior.params(kept)     # every position's prior; stage 0's code
        >>> mean_1, log_scale_1 = prior.context_params(kept, y, mean, log_scale, 1)  # stage 1's code
    """

    def __init__(self, width, depth, norm_groups=0, context=0, stages=2, **kwargs):
        super().__init__(**kwargs)
        self.width, self.depth, self.norm_groups, self.context = width, depth, norm_groups, context
        self.stages = _checked_stages(stages)

    exact = False  # set by `exact.prepare`: exp(+-log-scale) from `exact.scale_exp`'s table; not in the config

    def build(self, input_shape):
        channels = input_shape[-1]
        self.keep = channels // 2
        self.net = ConvNet(2 * (channels - self.keep), self.width, self.depth, self.norm_groups, name="net")
        if self.context:
            self.context_net = ConvNet(2 * (channels - self.keep), self.context, 0, name="context")

    def params(self, kept):
        """(mean, log_scale) of the factored-out half, in lattice units."""
        return self.params_of(self.net(kept / SCALE))

    @staticmethod
    def params_of(out):
        """(mean, log_scale) in lattice units from a net's raw output: means first, then log-scales."""
        means, log_scales = _split_channels(out, out.shape[-1] // 2)
        return means * SCALE, ops.clip(log_scales + LOG_32, *LOG_SCALE_RANGE)

    def context_params(self, kept, y, mean, log_scale, stage=1):
        """(mean, log_scale) of y's values in stage `stage` (1 or later), from the kept half, the prior's
        (`mean`, `log_scale`) and y's values in the stages before; y's other values are not read (they may be
        anything)."""
        seen = ops.broadcast_to(coding_stages(y, self.stages) < stage, ops.shape(y))
        inverse_scale, scale = (exact.scale_exp(log_scale, -1.0), exact.scale_exp(log_scale)) if self.exact \
            else (ops.exp(-log_scale), ops.exp(log_scale))
        residual = ops.where(seen, (y - mean) * inverse_scale, 0.0)
        features = [kept / SCALE, log_scale - LOG_32, residual, ops.abs(residual), ops.cast(seen, "float32")]
        # the prior learns from its own bits, not through the net's inputs: a residual grows without bound
        # as its scale shrinks, and its gradient with it (training the flow with it diverged)
        out = self.context_net(ops.stop_gradient(ops.concatenate(features, axis=-1)))
        shift, log_scale_shift = _split_channels(out, out.shape[-1] // 2)
        return mean + shift * scale, ops.clip(log_scale + log_scale_shift, *LOG_SCALE_RANGE)

    def context_logp(self, kept, y, mean, log_scale):
        """log P of each of y's values that the context net codes (stage 1 and later), 0.0 at stage 0."""
        stages, staged_mean, staged_log_scale = self._staged_params(kept, y, mean, log_scale)
        return ops.where(stages > 0, discretized_logistic_logp(y, staged_mean, staged_log_scale), 0.0)

    def _staged_params(self, kept, y, mean, log_scale):
        """(coding stages, mean, log_scale) of every value of y as the codec codes it: the prior's at stage 0,
        the context net's at the later ones (`staged_params`)."""
        return staged_params(y, self.stages, lambda stage: self.context_params(kept, y, mean, log_scale, stage),
                             mean, log_scale)

    def partition(self, z):
        """(kept half, factored-out half) of z."""
        return tuple(_split_channels(z, self.keep))

    def log_prob(self, kept, y):
        """log P(y | kept), summed per example."""
        mean, log_scale = self.params(kept)
        if self.context:
            _, mean, log_scale = self._staged_params(kept, y, mean, log_scale)
        return ops.sum(discretized_logistic_logp(y, mean, log_scale), axis=(1, 2, 3))

    def call(self, z):
        kept, y = self.partition(z)
        return kept, y, self.log_prob(kept, y)

    def get_config(self):
        config = {**super().get_config(), "width": self.width, "depth": self.depth, "norm_groups": self.norm_groups,
                  "context": self.context}
        return {**config, "stages": self.stages} if self.stages != 2 else config  # absent: configs published before it


def checkerboard(x):
    """1.0 at the anchors of an NHWC tensor's positions (i + j even), else 0.0; shape (1, H, W, 1)."""
    h, w = _spatial(x)
    parity = (ops.arange(h)[:, None] + ops.arange(w)[None, :]) % 2
    return ops.cast(parity == 0, "float32")[None, :, :, None]


STAGE_COUNTS = (2, 4, 8)


def coding_stages(x, count):
    """The coding stage (0 to `count` - 1) of each value of an NHWC tensor x, shape (1, H, W, C), float32:
    `count` 2: the anchors (i + j even), then the other positions; 4: the anchors' first half of the
    channels, their second half, then the other positions' first half and second half; 8: the four
    positions of each 2x2 block in turn, (0, 0), (1, 1), (0, 1), (1, 0), each in two halves of the channels.

    Example:
        >>> coding_stages(np.zeros((1, 2, 2, 2)), 4)[0, :, :, 0]    # [[0, 2], [2, 0]]; channel 1: [[1, 3], [3, 1]]
    """
    channels = x.shape[-1]
    h, w = _spatial(x)
    if count == 8:
        i, j = ops.arange(h)[:, None] % 2, ops.arange(w)[None, :] % 2
        position = ops.cast(ops.where(i == j, i, 2 + i), "float32")[None, :, :, None]
    else:
        position = 1.0 - checkerboard(x)
    position = ops.broadcast_to(position, (1, h, w, channels))
    if count == 2:
        return position
    second = ops.cast(ops.arange(channels) >= channels // 2, "float32")
    return 2.0 * position + second[None, None, None, :]


def _checked_stages(stages):
    if stages not in STAGE_COUNTS:
        raise ValueError(f"stages must be one of {STAGE_COUNTS}, got {stages!r}")
    return stages


def staged_params(x, count, params_of, mean, log_scale):
    """(coding stages, mean, log_scale) of every value of an NHWC tensor x: `mean` and `log_scale` at stage 0,
    `params_of(stage)`'s at each later stage (of `count`), picked per value, so that a prior's log P is one
    discretized logistic over x, not one per stage and then picked (the same numbers, less work)."""
    stages = coding_stages(x, count)
    for stage in range(1, count):
        stage_mean, stage_log_scale = params_of(stage)
        at = stages == stage
        mean, log_scale = ops.where(at, stage_mean, mean), ops.where(at, stage_log_scale, log_scale)
    return stages, mean, log_scale


LAST_STAGES = 4  # a last prior's coding stages unless it says otherwise


@_serializable
class MixturePrior(keras.layers.Layer):
    """A learned mixture of `mixtures` discretized logistics for the last latent: one per dimension
    (`per_position=True`, a model of one image size), or one per channel shared by every position
    (`per_position=False`: the flow is then fully convolutional and takes images of any size).

    With `context` (a width; 0 for none), the last latent is coded in `stages` stages (`coding_stages`;
    LAST_STAGES by default): the mixtures code the first; a context net (two 3x3 convolutions, `context`
    wide, zero-initialised head) gives every later value a discretized logistic from the values of the stages
    before it (their values, their sizes and where they are), so the last latent sees its neighbours and its
    other channels as the split priors see theirs.

    Example:
        >>> prior = MixturePrior(mixtures=5, per_position=False, context=64, stages=4)
        >>> logp = prior(z)                                  # z: (N, H, W, C) integers in float32
        >>> mean, log_scale = prior.context_params(z, 1)     # stage 1's code; reads only z's stage 0
    """

    def __init__(self, mixtures, per_position=True, context=0, stages=LAST_STAGES, **kwargs):
        super().__init__(**kwargs)
        self.mixtures, self.per_position, self.context = mixtures, per_position, context
        self.stages = _checked_stages(stages)

    def build(self, input_shape):
        shape = (*(input_shape[1:] if self.per_position else input_shape[-1:]), self.mixtures)
        spread = np.linspace(-64.0, 64.0, self.mixtures) if self.mixtures > 1 else np.zeros(1)
        self.means = self.add_weight(
            shape=shape, initializer=lambda shape, dtype=None: ops.convert_to_tensor(np.broadcast_to(spread, shape), dtype),
            name="means",
        )
        self.log_scales = self.add_weight(
            shape=shape, initializer=keras.initializers.Constant(LOG_32), name="log_scales"
        )
        self.logits = self.add_weight(shape=shape, initializer="zeros", name="logits")
        if self.context:
            self.context_net = ConvNet(2 * input_shape[-1], self.context, 0, name="context")

    def params(self):
        """(means, log_scales, logits), each (H, W, C, mixtures) or (C, mixtures), in lattice units."""
        return self.means, ops.clip(self.log_scales, *LOG_SCALE_RANGE), self.logits

    def context_params(self, z, stage):
        """(mean, log_scale) of every value of z as stage `stage` (1 or later) codes it: a function of z's
        values in the stages before `stage` only (the others may be anything)."""
        seen = ops.broadcast_to(coding_stages(z, self.stages) < stage, ops.shape(z))
        values = ops.where(seen, z / SCALE, 0.0)
        features = ops.concatenate([values, ops.abs(values), ops.cast(seen, "float32")], axis=-1)
        return SplitPrior.params_of(self.context_net(ops.stop_gradient(features)))

    def call(self, z):
        logp = mixture_discretized_logistic_logp(z, *self.params())
        if self.context:
            stages, mean, log_scale = staged_params(z, self.stages, lambda stage: self.context_params(z, stage),
                                                    ops.zeros_like(z), ops.zeros_like(z))  # stage 0: the mixtures
            logp = ops.where(stages == 0, logp, discretized_logistic_logp(z, mean, log_scale))
        return ops.sum(logp, axis=(1, 2, 3))

    def get_config(self):
        config = {**super().get_config(), "mixtures": self.mixtures, "per_position": self.per_position}
        if self.context:  # absent: configs published before it
            config["context"] = self.context
        if self.stages != LAST_STAGES:
            config["stages"] = self.stages
        return config
