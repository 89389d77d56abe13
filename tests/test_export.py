"""LiteRT export: builtin ops only, outputs checked against Keras, nothing written on failure."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import export, registry
from zoo.errors import ExportError


def _model_with(layer_cls):
    inputs = keras.Input((4,))
    return keras.Model(inputs, layer_cls()(inputs), name="odd")


class _Determinant(keras.layers.Layer):  # tf.linalg.det is a Select TF (Flex) op in LiteRT
    def call(self, x):
        return tf.expand_dims(tf.linalg.det(tf.reshape(x, (-1, 2, 2))), -1)


class _Erfinv(keras.layers.Layer):  # neither builtin nor Flex
    def call(self, x):
        return keras.ops.erfinv(x)


def test_pretrained_model_exports_and_matches_keras(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = registry.spec("cnn-small-mnist")
    samples, source = export.sample_inputs(spec, 8)
    report = export.to_litert(zoo.load(spec.name), tmp_path / "cnn.tflite", samples=samples, sample_source=source)
    assert (tmp_path / "cnn.tflite").stat().st_size == report.size_bytes
    assert "CONV_2D" in report.ops and not any(op.startswith("Flex") for op in report.ops)
    assert report.samples == 8 and report.max_abs_error <= 1e-5
    assert "serve/outputs: max |LiteRT - Keras|" in str(report) and "0.0000% of elements not within atol" in str(report)


@pytest.mark.parametrize("layer, op", [(_Determinant, "FlexMatrixDeterminant"), (_Erfinv, "Erfinv")])
def test_non_builtin_ops_are_refused_by_name(tmp_path, layer, op):
    with pytest.raises(ExportError, match=op):
        export.to_litert(_model_with(layer), tmp_path / "odd.tflite", samples=np.zeros((2, 4), "float32"))
    assert list(tmp_path.iterdir()) == []


def test_disagreement_beyond_tolerance_writes_nothing(tmp_path, monkeypatch):
    model = zoo.load("cnn-small-mnist", pretrained=False)
    samples = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype("uint8")

    def shifted(model, samples):  # the exported graph is right; the eager "Keras" answer is off by one
        (sig,) = export.default_signatures(model, samples).values()
        fn = lambda x: {"outputs": model(x) + (1.0 if tf.executing_eagerly() else 0.0)}  # noqa: E731
        return {"serve": export.Signature(fn, sig.input_specs, sig.samples)}

    monkeypatch.setitem(export._SIGNATURES, type(model), shifted)
    with pytest.raises(ExportError, match="serve/outputs by up to 1"):
        export.to_litert(model, tmp_path / "cnn.tflite", samples=samples)
    assert list(tmp_path.iterdir()) == []


def test_integer_flow_exports_forward_and_inverse_exactly(tmp_path):
    from zoo.idf import IntegerDiscreteFlow

    flow = IntegerDiscreteFlow(width=8, flows_per_level=1, mixtures=2)
    rng = np.random.default_rng(1)
    for w in flow.weights:
        w.assign(w.numpy() + rng.normal(0, 0.05, w.shape).astype("float32"))
    images = rng.integers(0, 256, (16, 32, 32, 3)).astype("uint8")
    report = export.to_litert(flow, tmp_path / "idf.tflite", samples=images)
    assert {(c.signature, c.output) for c in report.checks} == {
        ("forward", "y0"), ("forward", "y1"), ("forward", "z"), ("inverse", "images")
    }
    assert all(c.mismatch_rate <= 1e-3 for c in report.checks)
    assert "ROUND" in report.ops


def test_wrong_suffix(tmp_path):
    with pytest.raises(ExportError, match=r"end in \.tflite"):
        export.to_litert(zoo.load("cnn-small-mnist", pretrained=False), tmp_path / "m.bin", samples=None)
