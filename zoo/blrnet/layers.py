"""The layers of a probabilistic binary network (Peters & Welling 2018, "Probabilistic Binary Neural
Networks"; first titled BLRNet, PBNet in the ICLR 2019 submission).

Every weight is a random variable w in {-1, +1} with P(w = +1) = (1 + theta) / 2,
so E[w] = theta and Var[w] = 1 - theta^2; training learns theta, kept in
[-1, 1] by a clipping constraint. A pre-activation a = sum_i w_i x_i is
Gaussian by the central limit theorem (local reparameterization), and the
layers pass its `(mean, variance)` along:

* real input x (the first layer):  mean = sum theta x,  var = sum (1 - theta^2) x^2
* binary input, E[x] = phi:        mean = sum theta phi, var = sum (1 - theta^2 phi^2)

(one formula: var = E[x^2] . 1 - E[x]^2 . theta^2, with E[x^2] = x^2 or 1).

Example:
    >>> images = keras.Input((28, 28, 1))
    >>> mean, var = StochasticBinaryConv2D(32, 3, input_kind="real")(images)
    >>> mean, var = StochasticMaxPooling2D()([mean, var])
    >>> mean, var = StochasticBatchNormalization()([mean, var])
    >>> phi = StochasticBinarization("propagate")([mean, var])   # E[x] of the binary activations
    >>> mean, var = StochasticBinaryDense(10)(Flatten()(phi))
"""

import keras
from keras import ops

_serializable = keras.saving.register_keras_serializable(package="zoo.blrnet")
INPUT_KINDS = ("real", "binary")


@_serializable
class ClipTheta(keras.constraints.Constraint):
    """Keeps theta = E[w] in [-1, 1]."""

    def __call__(self, w):
        return ops.clip(w, -1.0, 1.0)


@_serializable
class WeightVariance(keras.regularizers.Regularizer):
    """`strength` times the mean variance of the binary weights, mean(1 - theta^2): pushes theta
    towards +-1, so that the MAP network (the sign of theta) and the trained distribution agree.

    Example:
        >>> StochasticBinaryDense(10, theta_regularizer=WeightVariance(0.1))
    """

    def __init__(self, strength):
        self.strength = float(strength)

    def __call__(self, theta):
        return self.strength * ops.mean(1.0 - ops.square(theta))

    def get_config(self):
        return {"strength": self.strength}


class _StochasticBinary(keras.layers.Layer):
    """theta, its constraint, and the moments of sum_i w_i x_i given the input's mean (and E[x^2])."""

    def __init__(self, input_kind="binary", theta_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
        self.input_kind = input_kind
        self.theta_regularizer = keras.regularizers.get(theta_regularizer)

    def _make_theta(self, shape):
        self.theta = self.add_weight(
            name="theta", shape=shape, constraint=ClipTheta(), regularizer=self.theta_regularizer,
            initializer=keras.initializers.RandomUniform(-0.5, 0.5),
        )

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        second_moment = ops.square(x) if self.input_kind == "real" else ops.ones_like(x)
        mean = self._linear(x, self.theta)
        var = self._linear(second_moment, ops.ones_like(self.theta)) - self._linear(ops.square(x), ops.square(self.theta))
        return mean, ops.maximum(var, 1e-8)

    def get_config(self):
        config = {**super().get_config(), "input_kind": self.input_kind}
        if self.theta_regularizer is not None:  # absent otherwise, as in configs saved before it existed
            config["theta_regularizer"] = keras.regularizers.serialize(self.theta_regularizer)
        return config


@_serializable
class StochasticBinaryDense(_StochasticBinary):
    """A dense layer with binary weights w in {-1, +1}, E[w] = theta: input mean -> (mean, variance)."""

    def __init__(self, units, input_kind="binary", theta_regularizer=None, **kwargs):
        super().__init__(input_kind, theta_regularizer, **kwargs)
        self.units = units

    def build(self, input_shape):
        self._make_theta((input_shape[-1], self.units))

    def _linear(self, x, kernel):
        return ops.matmul(x, kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@_serializable
class StochasticBinaryConv2D(_StochasticBinary):
    """A "same" convolution with binary weights: a conv of theta for the mean, a conv of the variances
    for the variance (as the dense case, tap by tap)."""

    def __init__(self, filters, kernel_size=3, input_kind="binary", theta_regularizer=None, **kwargs):
        super().__init__(input_kind, theta_regularizer, **kwargs)
        self.filters, self.kernel_size = filters, kernel_size

    def build(self, input_shape):
        self._make_theta((self.kernel_size, self.kernel_size, input_shape[-1], self.filters))

    def _linear(self, x, kernel):
        return ops.conv(x, kernel, padding="same")

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@_serializable
class StochasticBatchNormalization(keras.layers.Layer):
    """Batch normalization of Gaussian pre-activations `[mean, var]`, per channel (last axis).

    The batch statistics are those of the distribution: mu = the mean of the
    means, sigma^2 = the mean of the variances plus the variance of the means
    (the mixture's variance). Output: mean' = gamma (mean - mu) / sigma + beta,
    var' = gamma^2 var / sigma^2. At inference the moving averages are used.
    """

    def __init__(self, momentum=0.9, epsilon=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        channels = input_shape[0][-1]
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=(channels,), initializer="zeros",
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(channels,), initializer="ones",
                                               trainable=False)

    def call(self, inputs, training=False):
        mean, var = inputs
        if training:
            axes = tuple(range(len(mean.shape) - 1))
            mu = ops.mean(mean, axis=axes)
            sigma2 = ops.mean(var, axis=axes) + ops.mean(ops.square(mean - mu), axis=axes)
            m = self.momentum
            self.moving_mean.assign(m * self.moving_mean + (1 - m) * ops.stop_gradient(mu))
            self.moving_variance.assign(m * self.moving_variance + (1 - m) * ops.stop_gradient(sigma2))
        else:
            mu, sigma2 = self.moving_mean, self.moving_variance
        scale = self.gamma / ops.sqrt(sigma2 + self.epsilon)
        return (mean - mu) * scale + self.beta, var * ops.square(scale)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


@_serializable
class StochasticMaxPooling2D(keras.layers.Layer):
    """Max pooling of Gaussian pre-activations `[mean, var]` over non-overlapping `pool_size` windows.

    In training, one sample is drawn from each input of a window and the
    (mean, variance) of the input whose sample is largest is passed on (its
    gradient flows to that input only). At inference, the input with the
    largest mean is passed on.
    """

    def __init__(self, pool_size=2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.seed = pool_size, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _windows(self, x):
        _, h, w, c = x.shape
        p = self.pool_size
        x = ops.reshape(x, (-1, h // p, p, w // p, p, c))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 5, 2, 4)), (-1, h // p, w // p, c, p * p))

    def call(self, inputs, training=False):
        mean, var = inputs
        mean_w, var_w = self._windows(mean), self._windows(var)
        score = mean_w
        if training:
            score = mean_w + ops.sqrt(var_w) * keras.random.normal(ops.shape(mean_w), seed=self.seed_generator)
        pick = ops.one_hot(ops.argmax(score, axis=-1), self.pool_size**2, dtype=mean.dtype)
        return ops.sum(mean_w * pick, axis=-1), ops.sum(var_w * pick, axis=-1)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape[0]
        shape = (b, h // self.pool_size, w // self.pool_size, c)
        return shape, shape

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "seed": self.seed}


@_serializable
class StochasticBinarization(keras.layers.Layer):
    """`[mean, var]` of a pre-activation -> the binary activation x = sign(a): q = P(a > 0) = Phi(mean / std).

    `mode="propagate"` (PBNet) passes on phi = E[x] = 2q - 1. `mode="sample"`
    (PBNet-S) draws x in {-1, +1} in training with the binary concrete
    relaxation (temperature 1) and a straight-through gradient; at inference
    both pass on phi.
    """

    MODES = ("propagate", "sample")

    def __init__(self, mode="propagate", temperature=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        self.mode, self.temperature, self.seed = mode, temperature, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        mean, var = inputs
        z = mean / ops.sqrt(var)
        q = 0.5 * (1 + ops.erf(z / 2**0.5))
        if not (training and self.mode == "sample"):
            return 2 * q - 1
        # binary concrete: logit of q plus logistic noise, through a sigmoid at the temperature
        log_q = ops.log(ops.clip(q, 1e-7, 1.0))
        log_not_q = ops.log(ops.clip(1 - q, 1e-7, 1.0))
        u = keras.random.uniform(ops.shape(q), 1e-7, 1 - 1e-7, seed=self.seed_generator)
        soft = 2 * ops.sigmoid((log_q - log_not_q + ops.log(u) - ops.log1p(-u)) / self.temperature) - 1
        hard = ops.where(soft >= 0, 1.0, -1.0)
        return soft + ops.stop_gradient(hard - soft)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "temperature": self.temperature, "seed": self.seed}


@_serializable
class Mean(keras.layers.Layer):
    """`[mean, var]` -> mean (the last layer's mean feeds the softmax)."""

    def call(self, inputs):
        return inputs[0]
