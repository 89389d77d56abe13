"""Integer Discrete Flow layers: exact bijections, the straight-through gradient, normalised priors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from zoo.idf import (
    ChannelPermutation,
    IntegerCoupling,
    IntegerDiscreteFlow,
    MixturePrior,
    SplitPrior,
    Squeeze,
    ThinConv2D,
    discretized_logistic_logp,
    mixture_discretized_logistic_logp,
    round_straight_through,
)

tfd = tfp.distributions
RNG = np.random.default_rng(0)


def _jolt(layer_or_model, seed=1, std=0.05):
    """Perturb every trainable weight, so zero-initialised nets compute non-trivial translations."""
    rng = np.random.default_rng(seed)
    for w in layer_or_model.trainable_weights:  # not the stored permutations
        w.assign(w.numpy() + rng.normal(0, std, w.shape).astype("float32"))


def _ints(shape, low=-128, high=128):
    return ops.convert_to_tensor(RNG.integers(low, high, shape), "float32")


@pytest.mark.parametrize("layer", [Squeeze(), ChannelPermutation(seed=3), IntegerCoupling(width=16, depth=1)])
def test_each_flow_layer_inverts_exactly(layer):
    z = _ints((3, 8, 8, 12))
    out = layer(z)
    _jolt(layer)
    out = layer(z)
    np.testing.assert_array_equal(ops.convert_to_numpy(out), np.round(ops.convert_to_numpy(out)))  # still integers
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.inverse(out)), ops.convert_to_numpy(z))


def test_coupling_translates_only_the_last_quarter():
    coupling = IntegerCoupling(width=16, depth=0)
    z = _ints((2, 4, 4, 12))
    coupling(z)
    _jolt(coupling, std=0.5)
    moved = ops.convert_to_numpy(coupling(z) != z)
    assert not moved[..., :9].any() and moved[..., 9:].any()


def test_whole_flow_is_a_bijection_on_every_pixel():
    model = IntegerDiscreteFlow(width=16, flows_per_level=2)
    _jolt(model)
    images = RNG.integers(0, 256, (16, 32, 32, 3)).astype("uint8")
    images[0] = 0
    images[1] = 255  # the extremes
    ys, z = model.latents(images)
    assert all(np.all(np.asarray(t) == np.round(np.asarray(t))) for t in [*ys, z])
    np.testing.assert_array_equal(ops.convert_to_numpy(model.inverse(ys, z)), images)


def test_levels_can_have_their_own_number_of_couplings_and_width():
    model = IntegerDiscreteFlow(width=[16, 8], flows_per_level=[1, 3], depth=[1, 0], levels=2)
    assert [c.width for c in model.couplings] == [16, 8, 8, 8] and [p.width for p in model.split_priors] == [16]
    assert [c.depth for c in model.couplings] == [1, 0, 0, 0] and [p.depth for p in model.split_priors] == [1]
    assert [len(model._steps(level)) for level in range(2)] == [1, 3]
    _jolt(model)
    images = RNG.integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    ys, z = model.latents(images)
    np.testing.assert_array_equal(ops.convert_to_numpy(model.inverse(ys, z)), images)
    again = IntegerDiscreteFlow.from_config(model.get_config())
    assert again.get_config()["flows_per_level"] == [1, 3] and again.get_config()["width"] == [16, 8]
    assert again.get_config()["depth"] == [1, 0]
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again(images).numpy(), model(images).numpy())


IDF_PLUS_PLUS = {"undo_permutations": True, "rezero": True, "norm_groups": 4}


def test_the_idf_plus_plus_options_keep_an_exact_bijection_that_reloads():
    model = IntegerDiscreteFlow(width=16, flows_per_level=2, **IDF_PLUS_PLUS)
    _jolt(model)
    images = RNG.integers(0, 256, (8, 32, 32, 3)).astype("uint8")
    ys, z = model.latents(images)
    np.testing.assert_array_equal(ops.convert_to_numpy(model.inverse(ys, z)), images)
    again = IntegerDiscreteFlow.from_config(model.get_config())
    assert {k: again.get_config()[k] for k in IDF_PLUS_PLUS} == IDF_PLUS_PLUS
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again(images).numpy(), model(images).numpy())


@pytest.mark.parametrize("undo", [False, True])
def test_undone_permutations_leave_each_level_in_the_squeeze_order(undo):
    model = IntegerDiscreteFlow(width=8, flows_per_level=3, levels=1, undo_permutations=undo)  # couplings: identity
    z = _ints((2, 8, 8, 3))
    squeezed = ops.convert_to_numpy(model.squeezes[0](z))
    order = np.arange(12)
    for permute in model.permutations:
        order = order[permute.order.numpy()]
    expected = squeezed if undo else squeezed[..., order]
    np.testing.assert_array_equal(ops.convert_to_numpy(model.level_forward(0, z)), expected)
    _jolt(model, std=0.5)
    naive = model.squeezes[0](z)  # one permutation at a time, as the docstring says, against the merged orders
    for permute, coupling in model._steps(0):
        naive = coupling(permute(naive))
        naive = permute.inverse(naive) if undo else naive
    out = model.level_forward(0, z)
    np.testing.assert_array_equal(ops.convert_to_numpy(out), ops.convert_to_numpy(naive))
    np.testing.assert_array_equal(ops.convert_to_numpy(model.level_inverse(0, out)), ops.convert_to_numpy(z))


def test_a_rezero_coupling_starts_as_the_identity_and_learns_through_its_gain():
    coupling = IntegerCoupling(width=8, depth=1, rezero=True)
    z = _ints((2, 4, 4, 8))
    np.testing.assert_array_equal(ops.convert_to_numpy(coupling(z)), ops.convert_to_numpy(z))
    assert np.abs(coupling.net.head.kernel.numpy()).sum() > 0  # the net itself is not zero
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(coupling(z) ** 2)
    gradients = dict(zip([w.path for w in coupling.trainable_weights], tape.gradient(loss, coupling.trainable_weights)))
    assert abs(float(gradients[coupling.gain.path])) > 0


def test_group_normalization_must_divide_the_width():
    with pytest.raises(ValueError, match="must divide the width"):
        IntegerDiscreteFlow(width=12, norm_groups=8)


@pytest.mark.parametrize("arguments, message", [
    ({"flows_per_level": [2, 2, 2]}, "list of 2 ints"), ({"width": [16]}, "list of 2 ints"),
    ({"flows_per_level": [2, -1]}, "at least 0"), ({"width": [16, 0]}, "at least 1"), ({"depth": [0, -1]}, "at least 0"),
])
def test_per_level_lists_of_the_wrong_length_or_sign_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        IntegerDiscreteFlow(levels=2, **{"width": 8, **arguments})


def test_straight_through_gradient():
    x = tf.Variable([0.2, 1.7, -2.5, 3.49])
    weights = tf.constant([1.0, -2.0, 3.0, 0.5])
    with tf.GradientTape() as tape:
        y = round_straight_through(x)
        loss = tf.reduce_sum(y * weights)
    np.testing.assert_array_equal(y.numpy(), np.round(x.numpy()))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), weights.numpy())


def test_compiled_flow_gives_integer_latents_equal_to_eager_ones():
    """The latents are integers in a compiled graph too, where TensorFlow may regroup additions (it turned
    the straight-through estimator's x + (round(x) - x) into values a few 1e-6 off an integer)."""
    flow = IntegerDiscreteFlow(width=16, flows_per_level=2, mixtures=3)
    _jolt(flow, std=0.02)
    images = RNG.integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    eager_splits, eager_z = flow.flow(images)
    splits, z = tf.function(flow.flow, autograph=False)(images)
    for got, want in [(z, eager_z), *[(y, eager_y) for (_, y), (_, eager_y) in zip(splits, eager_splits)]]:
        got = got.numpy()
        np.testing.assert_array_equal(got, np.round(got))
        np.testing.assert_array_equal(got, want.numpy())


def test_mixed_precision_keeps_the_flow_a_bijection_and_float32_comes_back_exactly():
    flow = IntegerDiscreteFlow(width=16, flows_per_level=2, mixtures=3)
    _jolt(flow, std=0.02)
    images = RNG.integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    full = flow(images).numpy()
    flow.set_mixed_precision(True)
    mixed = flow(images).numpy()
    ys, z = flow.latents(images)
    for latent in (*ys, z):
        np.testing.assert_array_equal(latent.numpy(), np.round(latent.numpy()))
    np.testing.assert_array_equal(flow.inverse(ys, z).numpy(), images)
    assert not np.array_equal(mixed, full) and np.allclose(mixed, full, atol=0.05)  # bfloat16 did run
    flow.set_mixed_precision(False)
    np.testing.assert_array_equal(flow(images).numpy(), full)


def test_coupling_gradient_is_that_of_the_unrounded_translation():
    coupling = IntegerCoupling(width=8, depth=0)
    z = _ints((2, 4, 4, 8))
    coupling(z)
    _jolt(coupling)
    keep = coupling.keep
    with tf.GradientTape(persistent=True) as tape:
        rounded = tf.reduce_sum(coupling(z)[..., keep:] ** 2)
        smooth = tf.reduce_sum((z[..., keep:] + coupling.translation(z[..., :keep])) ** 2)
    # d/dW of sum((z2 + round(t))^2) under the estimator is 2 (z2 + round(t)) dt/dW
    upstream = 2 * coupling(z)[..., keep:]
    with tf.GradientTape() as tape2:
        t = coupling.translation(z[..., :keep])
    expected = tape2.gradient(t, coupling.trainable_weights, output_gradients=upstream)
    got = tape.gradient(rounded, coupling.trainable_weights)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5, atol=1e-5)
    assert any(np.abs(g.numpy()).sum() > 0 for g in tape.gradient(smooth, coupling.trainable_weights))


@pytest.mark.parametrize("mean, log_scale", [(0.0, 0.0), (127.3, 2.0), (-40.0, -3.0), (3.7, 5.0)])
def test_discretized_logistic_sums_to_one(mean, log_scale):
    support = ops.arange(-20_000.0, 20_000.0)
    p = ops.exp(discretized_logistic_logp(support, mean, log_scale))
    assert abs(float(ops.sum(p)) - 1.0) < 1e-5


def test_over_256_pixel_bins_the_mass_is_one():
    bins = ops.arange(0.0, 256.0)
    for mean in (100.0, 128.0, 150.0):
        total = float(ops.sum(ops.exp(discretized_logistic_logp(bins, mean, float(np.log(8.0))))))
        assert abs(total - 1.0) < 1e-4


def test_far_tails_are_finite():
    logp = discretized_logistic_logp(ops.convert_to_tensor([-1e4, 1e4, 0.0]), 0.0, -7.0)
    assert np.all(np.isfinite(ops.convert_to_numpy(logp)))
    logp = discretized_logistic_logp(ops.convert_to_tensor([5.0]), 0.0, 12.0)  # a huge scale: tiny bins
    assert np.isfinite(float(logp[0]))


def test_a_mean_millions_of_bins_away_still_gives_a_finite_bin():
    # float32 cannot tell k - 1/2 - mean from k + 1/2 - mean there: the bin's width must not come from them
    logp = discretized_logistic_logp(ops.convert_to_tensor([-23.0, 71.0]), ops.convert_to_tensor([-1.3e7, 1.4e7]), -7.0)
    assert np.all(np.isfinite(ops.convert_to_numpy(logp)))


def test_photo_flows_give_finite_bits_on_uniform_noise():
    import zoo

    noise = np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3)).astype("uint8")
    bits = float(np.asarray(zoo.load("idf-photos")(noise))[0])
    assert np.isfinite(bits) and bits > 8.0  # noise costs more than its raw 8 bits under any model


def test_agrees_with_tfp_quantized_logistic():
    x = RNG.integers(-300, 300, (1000,)).astype("float32")
    mean = RNG.normal(0, 100, (1000,)).astype("float32")
    log_scale = RNG.uniform(-2, 5, (1000,)).astype("float32")
    ours = ops.convert_to_numpy(discretized_logistic_logp(x, mean, log_scale))
    # TFP's quantized bins are (k-1, k]; ours are [k-1/2, k+1/2]: shift the logistic by -1/2.
    ref = tfd.QuantizedDistribution(tfd.Logistic(loc=mean - 0.5, scale=np.exp(log_scale))).log_prob(x).numpy()
    finite = ref > -60  # TFP's difference of CDFs underflows where ours stays exact
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-4, atol=1e-4)
    assert np.all(np.isfinite(ours))


def test_mixture_agrees_with_tfp_mixture_same_family():
    n, k = 500, 5
    x = RNG.integers(-200, 200, (n,)).astype("float32")
    means = RNG.normal(0, 80, (n, k)).astype("float32")
    log_scales = RNG.uniform(0, 4, (n, k)).astype("float32")
    logits = RNG.normal(0, 1, (n, k)).astype("float32")
    ours = ops.convert_to_numpy(mixture_discretized_logistic_logp(x, means, log_scales, logits))
    ref = tfd.MixtureSameFamily(
        tfd.Categorical(logits=logits),
        tfd.QuantizedDistribution(tfd.Logistic(loc=means - 0.5, scale=np.exp(log_scales))),
    ).log_prob(x).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_priors_are_normalised_over_their_support():
    prior = MixturePrior(mixtures=3)
    prior.build((None, 1, 1, 1))
    _jolt(prior, std=1.0)
    support = ops.reshape(ops.arange(-5000.0, 5000.0), (-1, 1, 1, 1))
    assert abs(float(ops.sum(ops.exp(prior(support)))) - 1.0) < 1e-4
    split = SplitPrior(width=8, depth=0)
    kept, y, logp = split(_ints((2, 4, 4, 4)))
    assert tuple(kept.shape) == tuple(y.shape) == (2, 4, 4, 2) and tuple(logp.shape) == (2,)


@pytest.mark.parametrize("layer", [
    Squeeze(), ChannelPermutation(seed=5), IntegerCoupling(width=8, depth=2), SplitPrior(width=8, depth=1),
    IntegerCoupling(width=8, depth=1, rezero=True, norm_groups=2), SplitPrior(width=8, depth=0, norm_groups=4),
    SplitPrior(width=8, depth=0, context=8),
    MixturePrior(mixtures=4), ThinConv2D(3, 3, padding="same"),
])
def test_layers_serialize(layer):
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_a_loaded_flow_does_not_depend_on_the_random_generator(monkeypatch):
    import zoo
    from zoo.idf import layers

    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("uint8")
    expected = zoo.load("idf-cifar10")(images).numpy()
    real = np.random.default_rng
    monkeypatch.setattr(layers.np.random, "default_rng", lambda seed=None: real(12345))  # other permutations
    fresh, loaded = zoo.load("idf-cifar10", pretrained=False), zoo.load("idf-cifar10")
    assert any(not np.array_equal(a.order.numpy(), b.order.numpy()) for a, b in zip(fresh.permutations, loaded.permutations))
    np.testing.assert_array_equal(zoo.load("idf-cifar10")(images).numpy(), expected)


@pytest.mark.parametrize("kernel, filters, shape", [(3, 3, (2, 9, 13, 16)), (5, 2, (1, 7, 6, 4)), (1, 6, (3, 1, 10, 8))])
def test_thin_convolution_is_conv2d_with_the_same_weights(kernel, filters, shape):
    conv = keras.layers.Conv2D(filters, kernel, padding="same", activation="relu")
    thin = ThinConv2D(filters, kernel, padding="same", activation="relu")
    x = ops.convert_to_tensor(RNG.normal(size=shape), "float32")
    conv.build(shape), thin.build(shape)
    for a, b in zip(conv.weights, thin.weights):
        b.assign(RNG.normal(size=a.shape).astype("float32")), a.assign(b)
    np.testing.assert_allclose(thin(x), conv(x), rtol=1e-5, atol=1e-5)

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = ops.sum(layer(x) ** 2)
        return tape.gradient(out, [x, *layer.trainable_weights])

    for got, want in zip(gradients(thin), gradients(conv)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(thin(x, training=True), conv(x))  # in training: the convolution itself


def test_thin_convolution_refuses_what_it_does_not_compute():
    with pytest.raises(ValueError, match="stride 1"):
        ThinConv2D(3, 3, strides=2, padding="same")
    with pytest.raises(ValueError, match="padding='same'"):
        ThinConv2D(3, 3)
