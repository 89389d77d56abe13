"""The Self Normalizing Flow gradient, as TensorFlow custom gradients (the one TensorFlow-only edge of `zoo.snf`).

A flow layer z = W x + b adds log|det W| to the log-likelihood; its gradient
W^{-T} costs O(D^3). SNF keeps a learned approximate inverse R (x ~ R z) and
uses R^T in its place, so a training step costs O(D^2) (Keller et al. 2021,
section 3). The gradients follow the official implementation's shape, with the
1/2 of the paper's symmetric objective:

    dW = (g_z x^T - R^T) / 2          dR = (-g_x (z - b)^T + W^T) / 2
    db = sum g_z                      g_x = W^T g_z   (passed upstream exactly)

where g_z is the loss's gradient at z. Here each is split in two pieces:

* `selfnorm_dense` / `selfnorm_conv` compute z and return the data terms
  (g_z x^T / 2 for W, -g_x (z - b)^T / 2 for R, the exact g_x and db);
* `selfnorm_logdet` stands for log|det W| in the loss. Its value is 0 (it is
  not computed) and its gradient, times the loss's gradient g at it, is
  g R^T / 2 for W and -g W^T / 2 for R. A loss that holds -log|det W| (the
  negative log-likelihood, averaged over the batch: g = -1) thus receives
  -R^T / 2 and +W^T / 2, the official terms, and a loss scaled by c (bits
  instead of nats, a sum instead of a mean) scales them alike.

In Keras's row-vector convention a dense layer is z = x @ K + b with
K = W^T, and its inverse is x = (z - b) @ Rk with Rk = R^T; the formulas
above are transposed accordingly. For a 3x3 convolution with "same" padding,
R^T becomes the inverse kernel flipped in space with its in and out channels
swapped, each tap weighted by how many output positions use it, and W^T the
transposed convolution.

Example:
    >>> z = selfnorm_dense(x, kernel, bias, inverse_kernel)
    >>> nll = gaussian_nll(z) - selfnorm_logdet(kernel, inverse_kernel)   # value: no log-det
    >>> # d nll / d kernel == (x^T g_z - inverse_kernel^T) / 2 : exact when inverse_kernel = kernel^-1
"""

import numpy as np
import tensorflow as tf


def _read(*values):
    """Plain tensors: a custom gradient must not see the variables themselves, or TensorFlow asks for
    their gradients separately."""
    return [tf.identity(v) for v in values]


def selfnorm_dense(x, kernel, bias, inverse_kernel):
    """z = x @ kernel + bias; gradients: exact for x and bias, the SNF data terms for kernel and inverse_kernel."""

    @tf.custom_gradient
    def forward(x, kernel, bias, inverse_kernel):
        z = tf.matmul(x, kernel) + bias

        def grad(g_z):
            g_x = tf.matmul(g_z, kernel, transpose_b=True)
            g_kernel = tf.matmul(x, g_z, transpose_a=True) / 2
            g_inverse = -tf.matmul(z - bias, g_x, transpose_a=True) / 2
            return g_x, g_kernel, tf.reduce_sum(g_z, 0), g_inverse

        return z, grad

    return forward(*_read(x, kernel, bias, inverse_kernel))


_SAME = {"strides": [1, 1, 1, 1], "padding": "SAME"}


def selfnorm_conv(x, kernel, bias, inverse_kernel):
    """z = conv(x, kernel, "same") + bias with the SNF data-term gradients (kernels HWIO, stride 1)."""

    @tf.custom_gradient
    def forward(x, kernel, bias, inverse_kernel):
        z = tf.nn.conv2d(x, kernel, 1, "SAME") + bias

        def grad(g_z):
            g_x = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=kernel, out_backprop=g_z, **_SAME)
            g_kernel = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(kernel), out_backprop=g_z,
                                                       **_SAME) / 2
            g_inverse = -tf.raw_ops.Conv2DBackpropFilter(input=z - bias, filter_sizes=tf.shape(inverse_kernel),
                                                         out_backprop=g_x, **_SAME) / 2
            return g_x, g_kernel, tf.reduce_sum(g_z, (0, 1, 2)), g_inverse

        return z, grad

    return forward(*_read(x, kernel, bias, inverse_kernel))


def flip_kernel(kernel):
    """The kernel of the transposed convolution: flipped in space, in and out channels swapped (HWIO)."""
    return tf.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))


def tap_counts(kernel_size, height, width):
    """(k, k, 1, 1): how many output positions of a "same" convolution on height x width use each tap."""
    offsets = np.arange(kernel_size) - (kernel_size - 1) // 2
    rows = np.maximum(height - np.abs(offsets), 0)
    cols = np.maximum(width - np.abs(offsets), 0)
    return (rows[:, None] * cols[None, :]).astype("float32")[:, :, None, None]


def selfnorm_logdet(kernel, inverse_kernel, counts=None):
    """Stands for log|det W| in a loss: value 0, gradient R^T / 2 for W and -W^T / 2 for R.

    Dense: `kernel` (D, D) and `inverse_kernel` (D, D). Convolution: HWIO
    kernels and `counts` from `tap_counts`.
    """

    @tf.custom_gradient
    def logdet(kernel, inverse_kernel):
        def grad(g):
            if counts is None:
                return g * tf.transpose(inverse_kernel) / 2, -g * tf.transpose(kernel) / 2
            return g * flip_kernel(inverse_kernel) * counts / 2, -g * flip_kernel(kernel) * counts / 2

        return tf.zeros((), kernel.dtype), grad

    return logdet(*_read(kernel, inverse_kernel))
