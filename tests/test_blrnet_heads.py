"""The per-class sigmoid head: its loss is the binary cross-entropy of every class, it is fitted through its
logits with every weight shared, and it deploys, saves and trains in the harness like the softmax head."""

import dataclasses

import keras
import numpy as np
import pytest
from tiny import TINY

from zoo import blrnet, training
from zoo.blrnet.heads import output_layer


def _tiny(kind="pbnet", head="sigmoid", seed=0):
    keras.utils.set_random_seed(seed)
    return blrnet.binary_vgg(kind, (12, 12, 1), 4, blocks=((4,), (6, 6)), hidden=(8,), head=head)


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 12, 12, 1)).astype("uint8")


def test_per_class_bce_is_the_summed_binary_cross_entropy_even_for_large_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (64, 10))
    labels = rng.integers(0, 10, 64)
    onehot = np.eye(10)[labels]
    s = 1 / (1 + np.exp(-logits))
    expected = -(onehot * np.log(s) + (1 - onehot) * np.log1p(-s)).sum(axis=1)
    got = keras.ops.convert_to_numpy(blrnet.per_class_bce(labels, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # far tails, where the naive formula gives log(0): a confident right answer costs ~0, a wrong one its logit
    far = np.array([[80.0, -80.0], [-80.0, 80.0]], "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(blrnet.per_class_bce(np.array([0, 0]), far)), [0.0, 160.0],
                               atol=1e-6)


@pytest.mark.parametrize("kind", ["pbnet", "fp", "ste"])
def test_a_sigmoid_head_is_fitted_through_its_logits_with_every_weight_shared(kind):
    model = _tiny(kind)
    fitted, loss = blrnet.training_head(model)
    assert loss is blrnet.per_class_bce and fitted.output.shape == model.output.shape
    assert {id(w) for w in fitted.weights} == {id(w) for w in model.weights}
    x = _images(8)
    logits = keras.ops.convert_to_numpy(fitted(x, training=False))
    probs = keras.ops.convert_to_numpy(model(x, training=False))
    s = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(probs, s / s.sum(axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    before = [w.copy() for w in model.get_weights()]
    fitted.compile(keras.optimizers.Adam(1e-2), loss)
    fitted.fit(x, np.arange(8) % 4, epochs=1, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # the published model learned


def test_a_softmax_head_is_fitted_as_it_is():
    model = _tiny(head="softmax")
    assert blrnet.training_head(model) == (model, "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="head must be one of"):
        output_layer("hinge")


def test_a_sigmoid_head_deploys_as_a_binary_network_and_reloads_identically(tmp_path):
    model = _tiny()
    x = _images(16)
    binary = blrnet.to_binary(model, "map", data=[x])
    probs = keras.ops.convert_to_numpy(binary(x))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert isinstance(binary.layers[-1], blrnet.SigmoidProbabilities)
    zero_one = blrnet.zero_one_form(binary)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(zero_one(x)), probs, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(x, training=False)),
                                  keras.ops.convert_to_numpy(model(x, training=False)))


def test_the_harness_fits_the_training_head_and_restores_the_best_epoch_into_the_published_model(tmp_path):
    def build():
        inputs = keras.Input((8,), name="x")
        hidden = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
        logits = keras.layers.Dense(2, name="logits")(hidden)
        return keras.Model(inputs, blrnet.SigmoidProbabilities(name="probs")(logits), name="tiny_sigmoid")

    seen = []

    def evaluator(model, recipe, split, data_dir, skip=()):
        x = np.random.default_rng(0).random((4, 8)).astype("float32")
        seen.append(float(np.sum(keras.ops.convert_to_numpy(model(x)))))  # the published model: rows sum to 1
        return {"accuracy": 0.5}

    recipe = dataclasses.replace(TINY.recipe, training_head=blrnet.training_head, evaluator=evaluator, epochs=2)
    spec = dataclasses.replace(TINY, name="tiny-sigmoid-synthetic", builder=build, recipe=recipe)
    model, _ = training.train(spec, workdir=tmp_path, publish=False)
    assert seen == pytest.approx([4.0, 4.0])
    best = build()
    best.load_weights(tmp_path / "best.weights.h5")  # written from the fitted head's weights
    for a, b in zip(best.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
