"""The Self Normalizing Flow on images: exact inverse, density determinism, save-load, sampling."""

import math

import keras
import numpy as np
import pytest

import zoo
from zoo import checkpoint

NAMES = ["snf-fc-mnist", "exact-fc-mnist", "snf-conv-mnist", "exact-conv-mnist"]


def _images(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1)).astype("uint8")


@pytest.fixture(scope="module")
def flows():
    keras.utils.set_random_seed(0)
    return {name: zoo.load(name, pretrained=False) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_exact_inverse_undoes_forward(flows, name):
    flow = flows[name]
    x = _images().astype("float32") + np.random.default_rng(1).uniform(0, 1, (6, 28, 28, 1)).astype("float32")
    z, _ = flow.forward(x)
    np.testing.assert_allclose(flow.inverse(z, "exact"), x, atol=2e-3)  # logit space amplifies float error


def test_learned_inverse_of_an_untrained_snf_is_close_but_not_exact(flows):
    flow = flows["snf-fc-mnist"]
    x = _images().astype("float32") + 0.5
    z, _ = flow.forward(x)
    error = np.abs(flow.inverse(z, "learned") - x).mean()
    assert 0 < error < 5.0  # R = W^T is near W^-1 when W is near the identity
    with pytest.raises(ValueError, match="no learned inverse"):
        flows["exact-fc-mnist"].inverse(z, "learned")


def test_log_prob_is_exact_deterministic_per_seed_and_matches_call(flows):
    flow = flows["snf-conv-mnist"]
    images = _images()
    a, b, c = flow.log_prob(images), flow.log_prob(images), flow.log_prob(images, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and np.all(np.abs(a - c) < 0.01 * np.abs(a))  # noise moves it a little
    np.testing.assert_allclose(-flow(images).numpy(), a, rtol=1e-5)
    with pytest.raises(ValueError, match="uint8 images of shape"):
        flow.log_prob(images.astype("float32"))


def test_the_log_det_of_the_pre_processing_is_counted():
    # an identity flow (W = I, b = 0): NLL = Gaussian NLL of the logits minus the pre-processing log-det
    flow = zoo.load("exact-fc-mnist", pretrained=False)
    for layer in flow.flow_layers:
        if hasattr(layer, "kernel"):
            layer.kernel.assign(np.eye(784, dtype="float32"))
            layer.bias.assign(np.zeros(784, "float32"))
    flow.flow_layers[1].alpha = 0.999999  # the smooth leaky ReLU is then the identity up to 1e-6
    images = _images(2)
    x = images.astype("float64") + np.asarray(flow._dequantize(images, False, None))[..., :] - images
    y = 1e-6 + (1 - 2e-6) * x / 256
    logit = np.log(y) - np.log1p(-y)
    log_det = 784 * (math.log(1 - 2e-6) - math.log(256)) + np.sum(-np.log(y) - np.log1p(-y), axis=(1, 2, 3))
    prior = -0.5 * np.sum(logit**2, axis=(1, 2, 3)) - 392 * math.log(2 * math.pi)
    np.testing.assert_allclose(flow.log_prob(images), prior + log_det, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_identical_log_likelihoods(flows, name, tmp_path):
    flow = flows[name]
    checkpoint.save(flow, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    np.testing.assert_array_equal(flow.log_prob(_images()), again.log_prob(_images()))
    flow.save(tmp_path / "flow.keras")
    np.testing.assert_array_equal(flow.log_prob(_images()), keras.saving.load_model(tmp_path / "flow.keras").log_prob(_images()))


def test_samples_are_uint8_images(flows):
    samples = flows["snf-conv-mnist"].sample(3, inverse="exact", seed=0)
    assert samples.shape == (3, 28, 28, 1) and samples.dtype == np.uint8
    np.testing.assert_array_equal(samples, flows["snf-conv-mnist"].sample(3, inverse="exact", seed=0))


def test_litert_density_and_samples_match_keras(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from zoo import export
    from zoo.snf import litert

    flow = zoo.load("snf-conv-mnist", pretrained=False)
    images = _images(4)
    report = export.to_litert(flow, tmp_path / "flow.tflite", samples=images)
    assert {c.signature for c in report.checks} == {"log_prob", "sample"} and report.max_abs_error < 0.05
    # the exported constants stand for the exact log-dets: the file's density is the flow's log_prob
    runner = Interpreter(model_path=str(tmp_path / "flow.tflite")).get_signature_runner("log_prob")
    noise = np.random.default_rng(5).uniform(0, 1, images.shape).astype("float32")
    got = runner(images=images, noise=noise)["log_prob"]
    z, log_det = flow.forward(images.astype("float32") + noise)
    want = -0.5 * np.sum(np.reshape(z, (4, -1)) ** 2, -1) - 392 * math.log(2 * math.pi) + np.asarray(log_det)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=0.05)
    log_dets, inverses = litert.constants(flow)
    assert len(log_dets) == len(inverses) == 9 and inverses[0].shape == (784, 784)


def test_reconstruction_option_is_checked_and_kept_in_the_config():
    flow = zoo.load("snf-fc-mnist", pretrained=False, reconstruction_trains="inverse")
    assert flow.get_config()["reconstruction_trains"] == "inverse"
    assert type(flow).from_config(flow.get_config()).reconstruction_trains == "inverse"
    with pytest.raises(ValueError, match="reconstruction_trains must be one of"):
        zoo.load("snf-fc-mnist", pretrained=False, reconstruction_trains="kernel")
    assert type(flow).from_config({**flow.get_config(), "reconstruction_trains": 0.1}).reconstruction_trains == 0.1
