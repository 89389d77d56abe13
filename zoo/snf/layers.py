"""The layers of a Self Normalizing Flow. Each maps `x` to `(y, log_det)` and has an `inverse`.

`log_det` is log |det dy/dx| per example (shape (batch,)) or one scalar shared
by the batch. `SelfNormDense` / `SelfNormConv2D` train with the SNF gradient
(see `zoo.snf.gradients`): in training their `log_det` is a stand-in with value
0 and the SNF gradient; at inference it is exact. `ExactDense` / `ExactConv2D`
are their twins, trained through the exact log-determinant (slogdet, autodiff).

Example:
    >>> layer = SelfNormDense()
    >>> z, log_det = layer(x)                          # exact log|det W| when not training
    >>> x_approx = layer.inverse(z, exact=False)        # through the learned inverse R
    >>> x_exact = layer.inverse(z)                      # through W^-1
"""

import math

import keras
from keras import ops

from zoo.snf import gradients
from zoo.snf.spline import rational_quadratic

_serializable = keras.saving.register_keras_serializable(package="zoo.snf")

RECONSTRUCTION_TRAINS = ("both", "inverse")


def reconstruction_share(trains):
    """The share of the reconstruction loss's gradient that reaches W: "both" is 1, "inverse" 0, and a
    number in [0, 1] is itself."""
    if trains in RECONSTRUCTION_TRAINS:
        return 1.0 if trains == "both" else 0.0
    if isinstance(trains, (int, float)) and not isinstance(trains, bool) and 0 <= trains <= 1:
        return float(trains)
    raise ValueError(f"reconstruction_trains must be one of {RECONSTRUCTION_TRAINS} or a number in [0, 1], got {trains!r}")


def _identity_plus_noise(noise_gain):
    """Identity (dense) or Dirac (conv) plus Glorot-normal noise of gain `noise_gain`, as the official code."""

    def initializer(shape, dtype=None):
        if len(shape) == 2:
            eye = ops.eye(shape[0], shape[1])
        else:
            k = shape[0]
            eye = ops.pad(ops.eye(shape[2], shape[3])[None, None], [[k // 2, k // 2], [k // 2, k // 2], [0, 0], [0, 0]])
        fan_in = math.prod(shape[:-1])
        fan_out = math.prod(shape[:-2]) * shape[-1]
        std = noise_gain * math.sqrt(2.0 / (fan_in + fan_out))
        return eye + keras.random.normal(shape, stddev=std, seed=keras.random.SeedGenerator(), dtype=dtype)

    return initializer


def conv_matrix(kernel, image_shape):
    """The (D, D) matrix M of a "same", stride-1 convolution on images of `image_shape` (H, W, C), D = HWC,
    in the row-vector convention: conv(x).flatten() == x.flatten() @ M (M is the Toeplitz matrix transposed).

    Example:
        >>> m = conv_matrix(kernel, (28, 28, 1))              # (784, 784)
        >>> sign, log_abs_det = keras.ops.slogdet(m)          # log|det| of the convolution
    """
    d = math.prod(image_shape)
    basis = ops.reshape(ops.eye(d), (d, *image_shape))
    return ops.reshape(ops.conv(basis, kernel, padding="same"), (d, d))


class _Linear(keras.layers.Layer):
    """Shared by the dense and convolutional flow layers: kernel, bias, exact log-det and inverse."""

    learned_inverse = False

    def __init__(self, noise_gain=0.01, **kwargs):
        super().__init__(**kwargs)
        self.noise_gain = noise_gain

    def _make(self, kernel_shape, channels):
        init = _identity_plus_noise(self.noise_gain)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=init)
        std = self.noise_gain * math.sqrt(2.0 / (2 * math.prod(kernel_shape[:-1])))
        self.bias = self.add_weight(name="bias", shape=(channels,),
                                    initializer=keras.initializers.RandomNormal(stddev=std))

    def matrix(self):
        """The layer's (D, D) matrix in the row-vector convention (y.flatten() == x.flatten() @ matrix + bias)."""
        raise NotImplementedError

    def exact_log_det(self):
        """log |det| of the layer's matrix, O(D^3)."""
        return ops.slogdet(self.matrix())[1]

    def transform(self, x):
        """z = W x + b alone, without the log-det (for graphs where the log-det is a precomputed constant)."""
        raise NotImplementedError

    def inverse_with(self, z, inverse_matrix):
        """x = W^-1 (z - b) through a precomputed inverse of `matrix()` (row-vector convention)."""
        flat = ops.reshape(z - self.bias, (-1, inverse_matrix.shape[0]))
        return ops.reshape(ops.matmul(flat, inverse_matrix), ops.shape(z))

    def get_config(self):
        return {**super().get_config(), "noise_gain": self.noise_gain}


@_serializable
class ExactDense(_Linear):
    """z = x @ K + b on (batch, D), D x D; trained through the exact log|det K| (slogdet and its autodiff)."""

    def build(self, input_shape):
        d = input_shape[-1]
        self._make((d, d), d)

    def matrix(self):
        return self.kernel

    def transform(self, x):
        return ops.matmul(x, self.kernel) + self.bias

    def call(self, x, training=False):
        return self.transform(x), self.exact_log_det()

    def inverse(self, z, exact=True):
        if not exact:
            raise ValueError(f"{type(self).__name__} has no learned inverse; use exact=True")
        return ops.transpose(ops.solve(ops.transpose(self.kernel), ops.transpose(z - self.bias)))


@_serializable
class ExactConv2D(_Linear):
    """z = conv(x, K) + b, a 3x3 (by default) "same" convolution with as many outputs as inputs, trained
    through the exact log-determinant of its (HWC x HWC) Toeplitz matrix."""

    def __init__(self, kernel_size=3, noise_gain=0.01, **kwargs):
        super().__init__(noise_gain, **kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for a 'same' invertible convolution, got {kernel_size}")
        self.kernel_size = kernel_size

    def build(self, input_shape):
        self.image_shape = tuple(input_shape[1:])
        c = self.image_shape[-1]
        self._make((self.kernel_size, self.kernel_size, c, c), c)

    def matrix(self):
        return conv_matrix(self.kernel, self.image_shape)

    def transform(self, x):
        return ops.conv(x, self.kernel, padding="same") + self.bias

    def call(self, x, training=False):
        return self.transform(x), self.exact_log_det()

    def inverse(self, z, exact=True):
        if not exact:
            raise ValueError(f"{type(self).__name__} has no learned inverse; use exact=True")
        flat = ops.reshape(z - self.bias, (-1, math.prod(self.image_shape)))
        x = ops.transpose(ops.solve(ops.transpose(self.matrix()), ops.transpose(flat)))
        return ops.reshape(x, (-1, *self.image_shape))

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


class _SelfNorm:
    """The learned inverse R, the SNF gradient in training and the reconstruction error ||x - R W x||.

    `inverse_lr_multiplier` m: the weight `inverse_kernel` stores R / m, so an
    optimizer whose steps are about its learning rate whatever the gradient's
    scale (Adam) moves R about m times faster than W. m = 1 is the official
    parameterization.
    """

    learned_inverse = True

    def __init__(self, *args, inverse_lr_multiplier=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if not inverse_lr_multiplier > 0:
            raise ValueError(f"inverse_lr_multiplier must be positive, got {inverse_lr_multiplier}")
        self.inverse_lr_multiplier = inverse_lr_multiplier

    def _make_inverse(self, kernel_shape, transpose):
        self.inverse_kernel = self.add_weight(name="inverse_kernel", shape=kernel_shape, initializer="zeros")
        # W ~ I at first, so R = W^T ~ W^-1
        self.inverse_kernel.assign(transpose(self.kernel) / self.inverse_lr_multiplier)

    def learned_inverse_kernel(self):
        """R: the learned inverse's kernel (dense: (D, D) in the row-vector convention; conv: HWIO)."""
        return self.inverse_lr_multiplier * ops.convert_to_tensor(self.inverse_kernel)

    def get_config(self):
        return {**super().get_config(), "inverse_lr_multiplier": self.inverse_lr_multiplier}

    def reconstruction_error(self, x, trains="both"):
        """||x - R W x||^2 per example (biases left out); its gradient never reaches x.

        `trains="both"` (the official default) lets its gradient train W and R;
        `"inverse"` holds W x constant, so only R is pulled towards W^-1 (the
        official `only_R_recon`) and W follows the likelihood alone; a number
        s in [0, 1] passes W the share s of the gradient (the value is the same).
        """
        share = reconstruction_share(trains)
        x = ops.stop_gradient(x)
        z = self._apply(x)
        if share == 0:
            z = ops.stop_gradient(z)
        elif share != 1:
            z = share * z + (1 - share) * ops.stop_gradient(z)
        return ops.sum(ops.reshape(x - self._apply_inverse(z), (ops.shape(x)[0], -1)) ** 2, axis=-1)


@_serializable
class SelfNormDense(_SelfNorm, ExactDense):
    """A dense flow layer trained with the SNF gradient: O(D^2) a step, no determinant in training.

    In training, `call` returns z with the gradients of `zoo.snf.gradients` and
    a log-det stand-in (value 0, gradient R^T / 2 for K); at inference the exact
    log|det K|. `inverse(z, exact=False)` applies the learned inverse R.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self._make_inverse(self.kernel.shape, ops.transpose)

    def _apply(self, x):
        return ops.matmul(x, self.kernel)

    def _apply_inverse(self, z):
        return ops.matmul(z, self.learned_inverse_kernel())

    def call(self, x, training=False):
        if not training:
            return super().call(x)
        kernel, inverse = ops.convert_to_tensor(self.kernel), self.learned_inverse_kernel()
        z = gradients.selfnorm_dense(x, kernel, ops.convert_to_tensor(self.bias), inverse)
        return z, gradients.selfnorm_logdet(kernel, inverse)

    def inverse(self, z, exact=True):
        return super().inverse(z) if exact else self._apply_inverse(z - self.bias)


@_serializable
class SelfNormConv2D(_SelfNorm, ExactConv2D):
    """A "same" convolutional flow layer trained with the SNF gradient (see `SelfNormDense`).

    R is a convolution of the same size; the log-det gradient R^T is R's
    kernel flipped in space with in and out channels swapped, each tap weighted
    by the number of positions that use it.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self._make_inverse(self.kernel.shape, gradients.flip_kernel)
        self.counts = gradients.tap_counts(self.kernel_size, *self.image_shape[:2])

    def _apply(self, x):
        return ops.conv(x, self.kernel, padding="same")

    def _apply_inverse(self, z):
        return ops.conv(z, self.learned_inverse_kernel(), padding="same")

    def call(self, x, training=False):
        if not training:
            return super().call(x)
        kernel, inverse = ops.convert_to_tensor(self.kernel), self.learned_inverse_kernel()
        z = gradients.selfnorm_conv(x, kernel, ops.convert_to_tensor(self.bias), inverse)
        return z, gradients.selfnorm_logdet(kernel, inverse, self.counts)

    def inverse(self, z, exact=True):
        return super().inverse(z) if exact else self._apply_inverse(z - self.bias)


@_serializable
class SmoothLeakyReLU(keras.layers.Layer):
    """y = alpha x + (1 - alpha) softplus(x): smooth, strictly increasing, slope in (alpha, 1).

    Example:
        >>> y, log_det = SmoothLeakyReLU(0.3)(x)
        >>> x_again = SmoothLeakyReLU(0.3).inverse(y)      # Newton's method, to float precision
    """

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha

    def _f(self, x):
        return self.alpha * x + (1 - self.alpha) * ops.softplus(x)

    def _slope(self, x):
        return self.alpha + (1 - self.alpha) * ops.sigmoid(x)

    def call(self, x, training=False):
        log_det = ops.sum(ops.reshape(ops.log(self._slope(x)), (ops.shape(x)[0], -1)), axis=-1)
        return self._f(x), log_det

    def inverse(self, y, exact=True, iterations=40):
        x = ops.where(y > 0, y, y / self.alpha)  # the exact inverse of the piecewise-linear asymptotes
        for _ in range(iterations):
            x = x - (self._f(x) - y) / self._slope(x)
        return x

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@_serializable
class SplineActivation(keras.layers.Layer):
    """An elementwise monotone rational-quadratic spline on [-bound, bound], identity outside, with its own
    parameters at every position and channel (the official `individual_weights=True`).

    Example:
        >>> act = SplineActivation(bins=5, bound=10.0)
        >>> y, log_det = act(x)
        >>> x_again = act.inverse(y)
    """

    def __init__(self, bins=5, bound=10.0, **kwargs):
        super().__init__(**kwargs)
        self.bins, self.bound = bins, bound

    def build(self, input_shape):
        shape = tuple(input_shape[1:])
        init = keras.initializers.RandomNormal(stddev=0.01)
        self.widths = self.add_weight(name="widths", shape=(*shape, self.bins), initializer=init)
        self.heights = self.add_weight(name="heights", shape=(*shape, self.bins), initializer=init)
        self.derivatives = self.add_weight(name="derivatives", shape=(*shape, self.bins - 1), initializer=init)

    def _spline(self, x, inverse):
        return rational_quadratic(x, self.widths, self.heights, self.derivatives, self.bound, inverse=inverse)

    def call(self, x, training=False):
        y, log_derivative = self._spline(x, inverse=False)
        return y, ops.sum(ops.reshape(log_derivative, (ops.shape(x)[0], -1)), axis=-1)

    def inverse(self, y, exact=True):
        return self._spline(y, inverse=True)[0]

    def get_config(self):
        return {**super().get_config(), "bins": self.bins, "bound": self.bound}


@_serializable
class Squeeze(keras.layers.Layer):
    """Space to depth, (B, H, W, C) -> (B, H/2, W/2, 4C): a permutation, so its log-det is 0."""

    def call(self, x, training=False):
        _, h, w, c = x.shape
        x = ops.reshape(x, (-1, h // 2, 2, w // 2, 2, c))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, h // 2, w // 2, 4 * c)), 0.0

    def inverse(self, x, exact=True):
        _, h, w, c4 = x.shape
        x = ops.reshape(x, (-1, h, w, 2, 2, c4 // 4))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, 2 * h, 2 * w, c4 // 4))
