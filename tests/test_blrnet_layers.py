"""Probabilistic binary layers: moments against Monte Carlo sampling of binary weights, batch norm of a
distribution, the stochastic max pool, the binarization, serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.blrnet import (
    StochasticBatchNormalization,
    StochasticBinarization,
    StochasticBinaryConv2D,
    StochasticBinaryDense,
    StochasticMaxPooling2D,
    WeightVariance,
)

SAMPLES = 20000


def _sample_weights(theta, n, rng):
    return np.where(rng.random((n, *theta.shape)) < (1 + theta) / 2, 1.0, -1.0)


def _check_moments(samples, mean, var):
    """Sample mean and variance of `samples` (n, ...) against analytic moments, within 5 standard errors."""
    n = len(samples)
    se_mean = np.sqrt(var / n)
    np.testing.assert_array_less(np.abs(samples.mean(0) - mean), 5 * se_mean + 1e-6)
    # the sample variance of a near-Gaussian sum has standard error ~ var * sqrt(2 / n)
    np.testing.assert_array_less(np.abs(samples.var(0) - var), 5 * var * np.sqrt(2 / n) + 1e-6)


@pytest.mark.parametrize("input_kind", ["real", "binary"])
def test_dense_moments_match_monte_carlo(input_kind):
    rng = np.random.default_rng(0)
    layer = StochasticBinaryDense(3, input_kind=input_kind)
    if input_kind == "real":
        x = rng.normal(size=(1, 40)).astype("float32")
    else:
        x = rng.uniform(-1, 1, size=(1, 40)).astype("float32")  # phi = E[x] of binary inputs
    mean, var = layer(x)
    theta = layer.theta.numpy()
    w = _sample_weights(theta, SAMPLES, rng)
    if input_kind == "real":
        inputs = np.broadcast_to(x[0], (SAMPLES, 40))
    else:
        inputs = np.where(rng.random((SAMPLES, 40)) < (1 + x[0]) / 2, 1.0, -1.0)
    a = np.einsum("ni,nio->no", inputs, w)
    _check_moments(a, mean.numpy()[0], var.numpy()[0])


def test_conv_moments_match_monte_carlo():
    rng = np.random.default_rng(1)
    layer = StochasticBinaryConv2D(2, 3, input_kind="binary")
    phi = rng.uniform(-1, 1, size=(1, 4, 4, 3)).astype("float32")
    mean, var = layer(phi)
    theta = layer.theta.numpy()
    n = 4000
    w = _sample_weights(theta, n, rng).astype("float32")
    x = np.where(rng.random((n, 4, 4, 3)) < (1 + phi[0]) / 2, 1.0, -1.0).astype("float32")
    a = np.stack([tf.nn.conv2d(x[i:i + 1], w[i], 1, "SAME").numpy()[0] for i in range(n)])
    _check_moments(a, mean.numpy()[0], var.numpy()[0])


def test_stochastic_batch_norm_normalizes_the_distribution():
    rng = np.random.default_rng(2)
    mean = tf.constant(rng.normal(3.0, 2.0, size=(256, 5)).astype("float32"))
    var = tf.constant(rng.uniform(1.0, 4.0, size=(256, 5)).astype("float32"))
    bn = StochasticBatchNormalization(epsilon=0.0)
    bn([mean, var])
    bn.gamma.assign(np.full(5, 2.0, "float32"))
    bn.beta.assign(np.full(5, 0.5, "float32"))
    out_mean, out_var = bn([mean, var], training=True)
    # the mixture of the output Gaussians has mean beta and variance gamma^2
    np.testing.assert_allclose(out_mean.numpy().mean(0), 0.5, atol=1e-5)
    mixture_var = out_var.numpy().mean(0) + out_mean.numpy().var(0)
    np.testing.assert_allclose(mixture_var, 4.0, rtol=1e-4)
    # mean and variance are scaled alike: var' / var == ((mean' - beta) / (mean - mu))^2
    mu = mean.numpy().mean(0)
    ratio = (out_mean.numpy() - 0.5) / (mean.numpy() - mu)
    np.testing.assert_allclose(out_var.numpy() / var.numpy(), ratio**2, rtol=1e-3)


def test_max_pool_passes_on_the_distribution_of_the_argmax_input():
    rng = np.random.default_rng(3)
    mean = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    var = rng.uniform(0.5, 2.0, size=(2, 4, 4, 3)).astype("float32")
    pool = StochasticMaxPooling2D(seed=0)
    out_mean, out_var = pool([mean, var], training=False)
    windows = mean.reshape(2, 2, 2, 2, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 2, 3, 4)
    np.testing.assert_array_equal(out_mean, windows.max(-1))  # inference: the largest mean
    out_mean, out_var = pool([mean, var], training=True)
    pairs = set(zip(mean.ravel().tolist(), var.ravel().tolist()))
    assert all((m, v) in pairs for m, v in zip(out_mean.numpy().ravel().tolist(), out_var.numpy().ravel().tolist()))
    # with tiny variances the sample's argmax is the mean's argmax
    np.testing.assert_array_equal(pool([mean, var * 1e-12], training=True)[0], windows.max(-1))
    # with equal means each input of a window wins a quarter of the time
    wins = np.mean([pool([np.zeros_like(mean), var], training=True)[1].numpy()[0, 0, 0, 0] == var[0, 0, 0, 0]
                    for _ in range(400)])
    assert 0.15 < wins < 0.35


def test_binarization_propagates_the_mean_and_samples_with_it():
    rng = np.random.default_rng(4)
    mean = tf.constant(rng.normal(size=(1, 6)).astype("float32"))
    var = tf.constant(rng.uniform(0.5, 2.0, size=(1, 6)).astype("float32"))
    from scipy.stats import norm

    q = norm.cdf(mean.numpy() / np.sqrt(var.numpy()))
    phi = StochasticBinarization("propagate")([mean, var])
    np.testing.assert_allclose(phi, 2 * q - 1, atol=1e-6)
    sampler = StochasticBinarization("sample", seed=0)
    draws = np.stack([sampler([mean, var], training=True).numpy()[0] for _ in range(4000)])
    assert set(np.unique(draws)) == {-1.0, 1.0}
    np.testing.assert_allclose(draws.mean(0), (2 * q - 1)[0], atol=5 * np.sqrt(1 / 4000) + 0.01)
    with tf.GradientTape() as tape:  # straight-through: a gradient reaches the mean
        tape.watch(mean)
        out = tf.reduce_sum(sampler([mean, var], training=True))
    assert np.all(np.abs(tape.gradient(out, mean).numpy()) > 0)


def test_theta_stays_in_minus_one_one():
    layer = StochasticBinaryDense(4, input_kind="real")
    x = np.ones((2, 3), "float32")
    layer(x)
    optimizer = keras.optimizers.SGD(10.0)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(layer(x)[0])
    optimizer.apply_gradients(zip(tape.gradient(loss, [layer.theta]), [layer.theta]))
    assert np.abs(layer.theta.numpy()).max() <= 1.0


def test_weight_variance_is_the_mean_variance_of_the_weights_and_pushes_theta_outwards():
    layer = StochasticBinaryDense(4, theta_regularizer=WeightVariance(0.5))
    layer(np.ones((2, 3), "float32"))
    theta = layer.theta.numpy()
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * np.mean(1 - theta**2), rtol=1e-6)
    with tf.GradientTape() as tape:
        penalty = layer.losses[0]
    step = -tape.gradient(penalty, layer.theta).numpy()  # gradient descent on the penalty alone
    assert np.all(np.sign(step) == np.sign(theta))


@pytest.mark.parametrize("layer", [StochasticBinaryDense(3, theta_regularizer=WeightVariance(0.1)),
                                   StochasticBinaryConv2D(4, input_kind="real"),
                                   StochasticBatchNormalization(), StochasticMaxPooling2D(),
                                   StochasticBinarization("sample")])
def test_layers_serialize(layer):
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_a_pbnet_with_weight_variance_penalizes_every_binary_layer_and_keeps_it_in_its_config():
    from zoo.blrnet import binary_vgg

    model = binary_vgg("pbnet", (12, 12, 1), 4, blocks=((4,),), hidden=(8,), weight_variance=2.0)
    thetas = [layer.theta for layer in model.layers if hasattr(layer, "theta")]
    want = sum(2.0 * np.mean(1 - t.numpy() ** 2) for t in thetas)
    np.testing.assert_allclose(float(sum(model.losses)), want, rtol=1e-5)
    again = keras.Model.from_config(model.get_config())
    assert len(again.losses) == len(thetas)
    with pytest.raises(ValueError, match="has none"):
        binary_vgg("ste", (12, 12, 1), 4, blocks=((4,),), hidden=(8,), weight_variance=2.0)
