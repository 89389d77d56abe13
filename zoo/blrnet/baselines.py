"""The baselines at the same architecture: a full-precision network (FPNet) and a deterministic binary
network trained with the straight-through sign estimator (BNN, Hubara et al. 2016).

`BinaryDense` / `BinaryConv2D` keep a real latent kernel in [-1, 1] and use its
sign in the forward pass; the gradient passes straight through to the latent
kernel. `SignSTE` is sign(x) forward and the hard-tanh gradient (1 where
|x| <= 1) backward.

Example:
    >>> x = BinaryConv2D(32, 3)(images)       # kernel used as sign(latent) in {-1, +1}
    >>> x = SignSTE()(BatchNormalization()(x))
"""

import keras
from keras import ops

from zoo.blrnet.layers import ClipTheta

_serializable = keras.saving.register_keras_serializable(package="zoo.blrnet")


def sign(x):
    """+1 where x >= 0, else -1 (never 0)."""
    return ops.where(x >= 0, 1.0, -1.0)


def _sign_straight_through(x):
    return x + ops.stop_gradient(sign(x) - x)


@_serializable
class SignSTE(keras.layers.Layer):
    """sign(x) in {-1, +1} forward; gradient 1 where |x| <= 1, else 0 (straight-through hard tanh)."""

    def call(self, x):
        clipped = ops.clip(x, -1.0, 1.0)
        return clipped + ops.stop_gradient(sign(x) - clipped)


@_serializable
class BinaryDense(keras.layers.Dense):
    """A Dense layer whose forward pass uses sign(kernel); the latent kernel is clipped to [-1, 1]."""

    def __init__(self, units, **kwargs):
        kwargs.setdefault("use_bias", False)
        kwargs.setdefault("kernel_constraint", ClipTheta())
        kwargs.setdefault("kernel_initializer", keras.initializers.RandomUniform(-1.0, 1.0))
        super().__init__(units, **kwargs)

    def call(self, x):
        return ops.matmul(x, _sign_straight_through(self.kernel))


@_serializable
class BinaryConv2D(keras.layers.Conv2D):
    """A "same" Conv2D whose forward pass uses sign(kernel); the latent kernel is clipped to [-1, 1]."""

    def __init__(self, filters, kernel_size=3, **kwargs):
        kwargs.setdefault("use_bias", False)
        kwargs.setdefault("padding", "same")
        kwargs.setdefault("kernel_constraint", ClipTheta())
        kwargs.setdefault("kernel_initializer", keras.initializers.RandomUniform(-1.0, 1.0))
        super().__init__(filters, kernel_size, **kwargs)

    def call(self, x):
        return ops.conv(x, _sign_straight_through(self.kernel), padding=self.padding)
