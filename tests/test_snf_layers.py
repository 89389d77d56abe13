"""Self Normalizing Flow layers: the SNF gradient against autodiff of the exact log-likelihood, exact
log-dets and inverses, the spline, and the learned inverse converging to W^-1."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from zoo.snf import ExactConv2D, ExactDense, SelfNormConv2D, SelfNormDense, SmoothLeakyReLU, SplineActivation, Squeeze
from zoo.snf import conv_matrix
from zoo.snf.spline import rational_quadratic


def _nll(z, log_det):
    """Mean negative log-likelihood under a standard normal prior, the loss the layers are trained with."""
    flat = tf.reshape(z, (tf.shape(z)[0], -1))
    return tf.reduce_mean(0.5 * tf.reduce_sum(flat**2, -1) - log_det)


def _grads(layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        z, log_det = layer(x, training=training)
        loss = _nll(z, log_det)
    return dict(zip(["x", "kernel", "bias"], tape.gradient(loss, [x, layer.kernel, layer.bias])))


def _twin(layer_cls, exact_cls, x, kernel, inverse_kernel):
    snf, exact = layer_cls(), exact_cls()
    snf(x), exact(x)
    for layer in (snf, exact):
        layer.kernel.assign(kernel)
        layer.bias.assign(np.linspace(-1, 1, layer.bias.shape[0]).astype("float32"))
    snf.inverse_kernel.assign(inverse_kernel)
    return snf, exact


def test_dense_snf_gradient_is_half_the_exact_gradient_when_r_is_the_inverse():
    rng = np.random.default_rng(0)
    d = 12
    kernel = (np.eye(d) + 0.3 * rng.normal(size=(d, d))).astype("float32")
    x = tf.constant(rng.normal(size=(7, d)).astype("float32"))
    snf, exact = _twin(SelfNormDense, ExactDense, x, kernel, np.linalg.inv(kernel).astype("float32"))
    got, want = _grads(snf, x, training=True), _grads(exact, x, training=True)
    np.testing.assert_allclose(got["kernel"], want["kernel"] / 2, rtol=1e-4, atol=1e-5)  # the 1/2 of the objective
    np.testing.assert_allclose(got["x"], want["x"], rtol=1e-5, atol=1e-6)  # passed upstream exactly
    np.testing.assert_allclose(got["bias"], want["bias"], rtol=1e-5, atol=1e-6)


def test_conv_snf_gradient_is_half_the_exact_gradient_when_r_is_the_inverse():
    # A kernel with only its centre tap has a convolutional inverse (the centre's inverse matrix), so R = W^-1.
    rng = np.random.default_rng(1)
    c = 3
    centre = (np.eye(c) + 0.3 * rng.normal(size=(c, c))).astype("float32")
    kernel = np.zeros((3, 3, c, c), "float32")
    kernel[1, 1] = centre
    inverse = np.zeros_like(kernel)
    inverse[1, 1] = np.linalg.inv(centre)
    x = tf.constant(rng.normal(size=(5, 6, 7, c)).astype("float32"))
    snf, exact = _twin(SelfNormConv2D, ExactConv2D, x, kernel, inverse)
    got, want = _grads(snf, x, training=True), _grads(exact, x, training=True)
    np.testing.assert_allclose(got["kernel"], want["kernel"] / 2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["x"], want["x"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["bias"], want["bias"], rtol=1e-5, atol=1e-5)


def test_snf_layers_are_exact_at_inference():
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(4, 5, 5, 2)).astype("float32"))
    layer = SelfNormConv2D()
    z, log_det = layer(x)
    reference, ref_log_det = ExactConv2D.call(layer, x)
    np.testing.assert_array_equal(z, reference)
    assert float(log_det) == float(ref_log_det) != 0.0


def test_conv_matrix_reproduces_the_convolution():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 2, 2)).astype("float32")
    x = rng.normal(size=(4, 5, 6, 2)).astype("float32")
    m = conv_matrix(kernel, (5, 6, 2))
    want = ops.conv(x, kernel, padding="same")
    np.testing.assert_allclose(ops.matmul(x.reshape(4, -1), m), ops.reshape(want, (4, -1)), rtol=1e-5, atol=1e-5)


def test_exact_conv_log_det_matches_a_brute_force_jacobian():
    rng = np.random.default_rng(4)
    layer = ExactConv2D()
    x = tf.constant(rng.normal(size=(1, 4, 5, 2)).astype("float32"))
    layer(x)
    layer.kernel.assign(layer.kernel + 0.2 * rng.normal(size=layer.kernel.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z, log_det = layer(x)
    jacobian = tape.jacobian(z, x).numpy().reshape(40, 40)
    np.testing.assert_allclose(float(log_det), np.linalg.slogdet(jacobian.astype("float64"))[1], rtol=1e-5)


@pytest.mark.parametrize("cls, shape", [(SelfNormDense, (6, 10)), (SelfNormConv2D, (3, 6, 6, 2)),
                                         (ExactDense, (6, 10)), (ExactConv2D, (3, 6, 6, 2))])
def test_exact_inverse_inverts_to_float_precision(cls, shape):
    rng = np.random.default_rng(5)
    layer = cls()
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    layer(x)
    layer.kernel.assign(layer.kernel + 0.1 * rng.normal(size=layer.kernel.shape).astype("float32"))
    z, _ = layer(x)
    np.testing.assert_allclose(layer.inverse(z), x, atol=2e-5)


@pytest.mark.parametrize("trains", ["both", "inverse"])
def test_training_drives_the_learned_inverse_to_w_inverse(trains):
    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    d = 16
    layer = SelfNormDense(noise_gain=1.0)
    x_all = rng.normal(size=(512, d)).astype("float32") * rng.uniform(0.5, 2.0, size=d).astype("float32")
    layer(x_all[:1])
    optimizer = keras.optimizers.Adam(3e-3)

    def distance():
        return float(np.linalg.norm(layer.learned_inverse_kernel().numpy() @ layer.kernel.numpy() - np.eye(d)))

    before = distance()
    for step in range(300):
        x = tf.constant(x_all[(step * 32) % 512:][:32])
        with tf.GradientTape() as tape:
            z, log_det = layer(x, training=True)
            loss = _nll(z, log_det) + tf.reduce_mean(layer.reconstruction_error(x, trains))
        variables = [layer.kernel, layer.bias, layer.inverse_kernel]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    assert distance() < 0.3 * before, (before, distance())  # R-only training moves slower: 0.18-0.20 over seeds


def _reconstruction_gradients(cls, shape, modes):
    """A layer, its input, and {mode: (reconstruction loss, [its gradient on W, on R])} for each mode."""
    layer = cls(noise_gain=1.0)
    x = tf.constant(np.random.default_rng(9).normal(size=shape).astype("float32"))
    layer(x)
    out = {}
    for trains in modes:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(layer.reconstruction_error(x, trains))
        out[trains] = (float(loss), tape.gradient(loss, [layer.kernel, layer.inverse_kernel]))
    return layer, x, out


@pytest.mark.parametrize("cls, shape", [(SelfNormDense, (8, 6)), (SelfNormConv2D, (2, 5, 4, 3))])
def test_inverse_only_reconstruction_trains_r_alone(cls, shape):
    """trains="inverse": the reconstruction loss leaves W untouched and gives R the same gradient as "both"."""
    layer, x, out = _reconstruction_gradients(cls, shape, ("both", "inverse"))
    (_, both), (_, inverse) = out["both"], out["inverse"]
    assert inverse[0] is None and float(tf.norm(both[0])) > 0
    np.testing.assert_allclose(inverse[1], both[1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="trains must be one of"):
        layer.reconstruction_error(x, "kernel")
    with pytest.raises(ValueError, match="a number in"):
        layer.reconstruction_error(x, 1.5)


@pytest.mark.parametrize("cls, shape", [(SelfNormDense, (8, 6)), (SelfNormConv2D, (2, 5, 4, 3))])
def test_a_reconstruction_share_scales_its_gradient_on_w_alone(cls, shape):
    """trains=s: the same loss value; W gets s times the "both" gradient, R all of it."""
    _, _, out = _reconstruction_gradients(cls, shape, ("both", 0.25))
    np.testing.assert_allclose(out[0.25][0], out["both"][0], rtol=1e-6)
    np.testing.assert_allclose(out[0.25][1][0], 0.25 * out["both"][1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[0.25][1][1], out["both"][1][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls, shape", [(SelfNormDense, (8, 6)), (SelfNormConv2D, (2, 5, 4, 3))])
def test_inverse_lr_multiplier_scales_r_and_adam_steps_on_it(cls, shape):
    """R is the same function with any multiplier m; one Adam step moves R about m times as far."""
    rng = np.random.default_rng(10)
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    layers = {m: cls(noise_gain=1.0, inverse_lr_multiplier=m) for m in (1.0, 10.0)}
    for layer in layers.values():
        layer(x)
    layers[10.0].set_weights(layers[1.0].get_weights())
    layers[10.0].inverse_kernel.assign(layers[1.0].inverse_kernel / 10.0)
    np.testing.assert_allclose(layers[10.0].learned_inverse_kernel(), layers[1.0].learned_inverse_kernel(), rtol=1e-6)
    moved = {}
    for m, layer in layers.items():
        before = layer.learned_inverse_kernel().numpy()
        with tf.GradientTape() as tape:
            z, log_det = layer(x, training=True)
            loss = _nll(z, log_det) + tf.reduce_mean(layer.reconstruction_error(x))
        grads = tape.gradient(loss, layer.trainable_weights)
        keras.optimizers.Adam(1e-3).apply_gradients(zip(grads, layer.trainable_weights))
        moved[m] = layer.learned_inverse_kernel().numpy() - before
    np.testing.assert_allclose(moved[10.0], 10.0 * moved[1.0], rtol=1e-3, atol=1e-7)
    assert cls.from_config(layers[10.0].get_config()).inverse_lr_multiplier == 10.0
    with pytest.raises(ValueError, match="must be positive"):
        cls(inverse_lr_multiplier=0.0)


def test_spline_is_monotone_inverts_and_its_log_derivative_matches_autodiff():
    rng = np.random.default_rng(7)
    act = SplineActivation(bins=5, bound=3.0)
    x = tf.constant(np.sort(rng.uniform(-5, 5, size=400)).astype("float32")[:, None])  # 400 inputs, one position
    act(x)
    for w in act.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, log_det = act(x)
    slope = tape.gradient(y, x)
    assert np.all(np.diff(y.numpy()[:, 0]) > 0)
    np.testing.assert_allclose(log_det, np.log(slope[:, 0]), atol=2e-4)
    np.testing.assert_allclose(act.inverse(y), x, atol=1e-4)
    outside = np.abs(x.numpy()) > 3
    np.testing.assert_array_equal(y.numpy()[outside], x.numpy()[outside])  # linear (identity) tails
    both = tf.constant(rng.uniform(-4, 4, size=(3, 2, 2, 2)).astype("float32"))  # several positions and channels
    act2 = SplineActivation(bins=4, bound=3.0)
    y2, log_det2 = act2(both)
    np.testing.assert_allclose(act2.inverse(y2), both, atol=1e-4)
    _, log_derivative = rational_quadratic(both, act2.widths, act2.heights, act2.derivatives, 3.0)
    np.testing.assert_allclose(log_det2, tf.reduce_sum(log_derivative, (1, 2, 3)), rtol=1e-6)


def test_smooth_leaky_relu_log_det_and_inverse():
    x = tf.constant(np.linspace(-8, 8, 101, dtype="float32")[None])
    act = SmoothLeakyReLU(0.3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, log_det = act(x)
    np.testing.assert_allclose(float(log_det[0]), float(tf.reduce_sum(tf.math.log(tape.gradient(y, x)))), rtol=1e-5)
    np.testing.assert_allclose(act.inverse(y), x, atol=1e-5)


def test_squeeze_is_a_permutation_with_an_inverse():
    x = tf.constant(np.arange(2 * 4 * 6 * 3, dtype="float32").reshape(2, 4, 6, 3))
    y, log_det = Squeeze()(x)
    assert y.shape == (2, 2, 3, 12) and log_det == 0.0
    assert sorted(y.numpy().ravel()) == sorted(x.numpy().ravel())
    np.testing.assert_array_equal(Squeeze().inverse(y), x)


@pytest.mark.parametrize("cls", [SelfNormDense, SelfNormConv2D, SmoothLeakyReLU, SplineActivation])
def test_layers_serialize(cls):
    layer = cls()
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is cls and again.get_config() == layer.get_config()
