"""From a PBNet to binary networks: +-1 kernels, batch norms folded into thresholds and signs (checked
against a NumPy forward pass), re-estimated statistics, ensembles, save-load."""

import keras
import numpy as np
import pytest
from conftest import needs_data

from zoo import blrnet, data
from zoo.blrnet.baselines import BinaryConv2D


def _tiny_pbnet(seed=0):
    keras.utils.set_random_seed(seed)
    return blrnet.binary_vgg("pbnet", (12, 12, 1), 4, blocks=((4,), (6, 6)), hidden=(8,))


def _random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 12, 12, 1)).astype("uint8")


def _numpy_forward(binary, images):
    """The folded network in NumPy: +-1 convolutions, max pools, per-channel thresholds and signs."""
    x = images.astype("float64") / 127.5 - 1.0
    for layer in binary.layers[1:]:
        name = type(layer).__name__
        if name == "Conv2D":
            kernel, *bias = layer.get_weights()
            k = kernel.shape[0]
            padded = np.pad(x, [(0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)])
            h, w = x.shape[1:3]
            patches = np.stack([padded[:, i:i + h, j:j + w] for i in range(k) for j in range(k)], axis=3)
            x = np.einsum("nhwtc,tcf->nhwf", patches, kernel.reshape(k * k, *kernel.shape[2:]))
            x = x + (bias[0] if bias else 0)
        elif name == "MaxPooling2D":
            n, h, w, c = x.shape
            x = x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
        elif name == "DepthwiseConv2D":
            sign, bias = layer.get_weights()
            x = x * sign.reshape(-1) + bias
        elif name == "Sign":
            x = np.where(x >= 0, 1.0, -1.0)
        elif name == "Flatten":
            x = x.reshape(len(x), -1)
        elif name == "Dense":
            kernel, *bias = layer.get_weights()
            x = x @ kernel + (bias[0] if bias else 0)
        elif name == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            x = gamma * (x - mean) / np.sqrt(var + layer.epsilon) + beta
        elif name == "Activation":
            e = np.exp(x - x.max(-1, keepdims=True))
            x = e / e.sum(-1, keepdims=True)
        elif name != "Rescaling":
            raise AssertionError(name)
    return x


@pytest.mark.parametrize("mode", ["map", "ternary", "sample"])
def test_binary_kernels_and_the_folded_network_equal_a_numpy_forward_pass(mode):
    model = _tiny_pbnet()
    for layer in model.layers:  # spread theta over (-1, 1) and give the batch norms negative scales too
        for w in layer.weights:
            if w.name in ("theta", "gamma", "beta"):
                w.assign(np.random.default_rng(1).uniform(-1, 1, w.shape).astype("float32"))
    images = _random_images(64)
    binary = blrnet.to_binary(model, mode, seed=3, data=images)
    kernels = [layer.get_weights()[0] for layer in binary.layers if type(layer).__name__ in ("Conv2D", "Dense")]
    allowed = {-1.0, 0.0, 1.0} if mode == "ternary" else {-1.0, 1.0}
    assert all(set(np.unique(k)) <= allowed for k in kernels)
    if mode == "ternary":
        assert any(0.0 in np.unique(k) for k in kernels)
    assert not any("Stochastic" in type(layer).__name__ for layer in binary.layers)
    np.testing.assert_allclose(binary.predict(images, verbose=0), _numpy_forward(binary, images), rtol=1e-4, atol=1e-6)


def test_map_and_sample_draws():
    theta = np.array([-0.9, -0.2, 0.0, 0.3, 1.0])
    np.testing.assert_array_equal(blrnet.binary_weights(theta, "map"), [-1, -1, 1, 1, 1])
    np.testing.assert_array_equal(blrnet.binary_weights(theta, "ternary"), [-1, 0, 0, 0, 1])
    draws = np.stack([blrnet.binary_weights(theta, "sample", np.random.default_rng(i)) for i in range(4000)])
    np.testing.assert_allclose(draws.mean(0), theta, atol=0.05)


def test_binary_network_saves_reloads_and_fine_tunes(tmp_path):
    images = _random_images(32)
    binary = blrnet.to_binary(_tiny_pbnet(), "map", data=images)
    binary.save(tmp_path / "binary.keras")
    again = keras.saving.load_model(tmp_path / "binary.keras")
    np.testing.assert_array_equal(binary.predict(images, verbose=0), again.predict(images, verbose=0))


def test_ensemble_is_the_mean_of_its_members_and_anytime(tmp_path):
    model, images = _tiny_pbnet(), _random_images(200)
    big, small = blrnet.ensemble(model, 4, images), blrnet.ensemble(model, 2, images)
    u = blrnet.predictive_uncertainty(big, images[:50])
    np.testing.assert_allclose(u["probs"], big.predict(images[:50], verbose=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(u["member_probs"][:2].mean(0), small.predict(images[:50], verbose=0), rtol=1e-5, atol=1e-7)
    assert u["entropy"].shape == u["top_class_variance"].shape == (50,) and np.all(u["entropy"] >= 0)
    big.save(tmp_path / "ensemble.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "ensemble.keras").predict(images, verbose=0),
                                  big.predict(images, verbose=0))


@needs_data
def test_reestimated_batch_norm_differs_and_improves_a_sampled_network():
    ds = data.load("mnist", "train").take(6000).batch(6000)
    images, labels = (t.numpy() for t in next(iter(ds)))
    keras.utils.set_random_seed(0)
    model = blrnet.binary_vgg("pbnet", (28, 28, 1), 10, blocks=((8,), (16,)), hidden=(32,), binarize="propagate")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(images[:5000], labels[:5000], batch_size=50, epochs=3, verbose=0)
    held_out = (images[5000:], labels[5000:])

    def accuracy(net):
        return float((net.predict(held_out[0], verbose=0).argmax(-1) == held_out[1]).mean())

    stale = [blrnet.to_binary(model, "sample", seed=s) for s in range(3)]
    fresh = [blrnet.to_binary(model, "sample", seed=s, data=images[:2000]) for s in range(3)]
    assert not np.allclose(fresh[0].get_layer("bn0_threshold").get_weights()[1],
                           stale[0].get_layer("bn0_threshold").get_weights()[1])
    fresh_accuracy, stale_accuracy = np.mean([accuracy(n) for n in fresh]), np.mean([accuracy(n) for n in stale])
    assert fresh_accuracy > stale_accuracy + 0.02, (fresh_accuracy, stale_accuracy)


def test_ste_layers_use_the_sign_of_a_clipped_latent_kernel():
    layer = BinaryConv2D(2, 3)
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 1)).astype("float32")
    out = layer(x).numpy()
    latent = layer.kernel.numpy()
    import tensorflow as tf

    np.testing.assert_allclose(out, tf.nn.conv2d(x, np.where(latent >= 0, 1.0, -1.0).astype("float32"), 1, "SAME"),
                               atol=1e-5)


def test_the_binary_network_exports_to_litert_with_only_plus_minus_one_weights(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from zoo import export

    model, images = _tiny_pbnet(), _random_images(64)
    binary = blrnet.to_binary(model, "map", data=images)
    report = export.to_litert(binary, tmp_path / "binary.tflite", samples=images)
    assert report.max_abs_error < 1e-5
    interpreter = Interpreter(model_path=str(tmp_path / "binary.tflite"))
    interpreter.allocate_tensors()
    kernels = [interpreter.get_tensor(op["inputs"][1]) for op in interpreter._get_ops_details()
               if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")]
    *hidden, output = kernels
    assert len(hidden) == 4 and all(set(np.unique(k)) <= {-1.0, 1.0} for k in hidden)
    # the converter folds the output batch norm's per-class scale into the last kernel: +-1 times a scale
    magnitude = np.abs(output)  # (classes, inputs)
    np.testing.assert_allclose(magnitude, magnitude[:, :1] * np.ones_like(magnitude), rtol=1e-6)
    runner = interpreter.get_signature_runner("serve")
    (name,) = runner.get_input_details()
    np.testing.assert_array_equal(runner(**{name: images})["outputs"].argmax(-1),
                                  binary.predict(images, verbose=0).argmax(-1))


def test_the_zero_one_form_computes_the_same_network():
    model, images = _tiny_pbnet(), _random_images(64)
    binary = blrnet.to_binary(model, "map", data=images)
    zero_one = blrnet.zero_one_form(binary)
    np.testing.assert_allclose(zero_one.predict(images, verbose=0), binary.predict(images, verbose=0), atol=1e-6)
    for layer in zero_one.layers:  # still +-1 kernels (the first layer's input is real and stays as it was)
        if type(layer) in (keras.layers.Conv2D, keras.layers.Dense):
            assert set(np.unique(layer.get_weights()[0])) <= {-1.0, 1.0}
        if isinstance(layer, blrnet.Step):
            assert set(np.unique(keras.Model(zero_one.input, layer.output).predict(images, verbose=0))) <= {0.0, 1.0}


def test_the_int8_binary_network_in_litert_has_plus_minus_one_weights_and_the_same_predictions(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from zoo import export

    images = _random_images(256, seed=1)
    keras.utils.set_random_seed(0)
    wide = blrnet.binary_vgg("pbnet", (12, 12, 1), 4, blocks=((8,), (32, 32)), hidden=(64,))  # kernels >= 1024
    binary = blrnet.to_binary(wide, "map", data=images)
    report = export.to_litert(blrnet.zero_one_form(binary), tmp_path / "b.tflite", samples=images, int8_weights=True)
    interpreter = Interpreter(model_path=report.path)
    interpreter.allocate_tensors()
    int8 = [t for t in interpreter.get_tensor_details() if t["dtype"] == np.int8 and t["name"] and
            len(t["quantization_parameters"]["scales"])]
    weights = [t for t in int8 if len(t["shape"]) in (2, 4)]
    assert len(weights) >= 3
    hidden = [t for t in weights if t["shape"][0] != 4]  # not the output layer (its batch norm is folded in)
    for t in hidden:  # stored as int8 +-127 at scale 1/127: exactly +-1
        values = interpreter.get_tensor(t["index"])
        assert set(np.unique(values)) <= {-127, 127}
        np.testing.assert_allclose(t["quantization_parameters"]["scales"], 1 / 127, rtol=1e-6)
    keras_probs = binary.predict(images, verbose=0)
    np.testing.assert_array_equal(export.run_litert(interpreter, images).argmax(-1), keras_probs.argmax(-1))


def test_reestimate_batch_norm_sets_the_statistics_of_each_layers_input():
    keras.utils.set_random_seed(0)
    net = blrnet.binary_vgg("ste", (12, 12, 1), 4, blocks=((4,), (6,)), hidden=(8,))
    images = _random_images(300)
    blrnet.reestimate_batch_norm(net, images, batches=3)
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            inputs = keras.Model(net.input, layer.input).predict(images, verbose=0)
            flat = inputs.reshape(-1, inputs.shape[-1])
            np.testing.assert_allclose(layer.moving_mean.numpy(), flat.mean(0), rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(layer.moving_variance.numpy(), flat.var(0), rtol=1e-4, atol=1e-4)
