"""Export to LiteRT (`.tflite`) with builtin ops only, checked against Keras.

A model is exported with one signature per entry point: by default `serve`
(the model's call); a model class may register its own (an integer flow
exports `forward` and `inverse`). Every signature is run in the LiteRT
interpreter on sample inputs and compared with Keras; the file is written only
if each output agrees within its tolerance.

Example:
    >>> import zoo
    >>> from zoo import export
    >>> model = zoo.load("cnn-small-mnist")
    >>> report = export.to_litert(model, "cnn.tflite", samples=images_uint8)
    >>> print(report)          # size, ops, and per output: max |LiteRT - Keras| and the share outside tolerance
    $ zoo export cnn-small-mnist cnn.tflite
"""

import dataclasses
import re
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from zoo import paths
from zoo.errors import DataNotFoundError, ExportError


@dataclasses.dataclass(frozen=True)
class Signature:
    """One entry point: `function(*inputs) -> {output name: tensor}`, its named input specs, sample inputs.

    An output agrees if `|litert - keras| <= atol + rtol * |keras|`; at most
    `allowed_mismatch` of its elements may disagree.
    """

    function: Callable
    input_specs: list
    samples: tuple
    atol: float = 1e-5
    rtol: float = 1e-4
    allowed_mismatch: float = 0.0


@dataclasses.dataclass(frozen=True)
class OutputCheck:
    signature: str
    output: str
    max_abs_error: float
    mismatch_rate: float
    signature_spec: Signature

    def __str__(self):
        spec = self.signature_spec
        tolerance = "exactly" if spec.atol == spec.rtol == 0 else f"within atol {spec.atol:g} + rtol {spec.rtol:g} * |Keras|"
        return (
            f"  {self.signature}/{self.output}: max |LiteRT - Keras| = {self.max_abs_error:.3g}; "
            f"{100 * self.mismatch_rate:.4f}% of elements not {tolerance} (allowed {100 * spec.allowed_mismatch:g}%)"
        )


@dataclasses.dataclass(frozen=True)
class ExportReport:
    path: str
    size_bytes: int
    ops: tuple  # distinct builtin op names in the flatbuffer
    samples: int
    sample_source: str
    checks: tuple

    def __str__(self):
        lines = [
            f"LiteRT export {self.path} ({self.size_bytes / 1024:.1f} KiB), builtin ops only: {', '.join(self.ops)}",
            f"checked on {self.samples} samples ({self.sample_source}):",
        ]
        return "\n".join(lines + [str(c) for c in self.checks])

    @property
    def max_abs_error(self):
        return max(c.max_abs_error for c in self.checks)


_SIGNATURES = {}


def register_signatures(model_class):
    """Decorator: `fn(model, samples) -> {name: Signature}` exports instances of `model_class`."""

    def decorate(fn):
        _SIGNATURES[model_class] = fn
        return fn

    return decorate


def default_signatures(model, samples):
    """`serve`: the model's call on its (single) input."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *model.input_shape[1:]), model.input.dtype, name="inputs")
    return {"serve": Signature(lambda x: {"outputs": model(x, training=False)}, [spec], (samples,))}


def to_litert(model, path, samples, *, sample_source="given", int8_weights=False):
    """Write `model` to `path` as LiteRT, refusing Flex/custom ops, after checking every signature on `samples`.

    `int8_weights`: store weight tensors of 1024 elements or more as int8 (dynamic-range quantization; their
    layers quantize their inputs on the fly). Exact only for networks made for it, such as a binary network's
    `blrnet.zero_one_form`; the same check against Keras decides.
    """
    path = Path(path)
    if path.suffix != ".tflite":
        raise ExportError(f"LiteRT files end in .tflite; got {path}")
    signatures = _signatures_for(model)(model, samples)
    content = _convert(model, signatures, int8_weights)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    ops = sorted({op["op_name"] for op in interpreter._get_ops_details()})
    non_builtin = [op for op in ops if op.startswith("Flex") or not op.isupper()]
    if non_builtin:
        raise ExportError(f"{model.name} needs Select TF (Flex) or custom ops: {', '.join(non_builtin)}")
    checks = tuple(c for name, sig in signatures.items() for c in _check(interpreter, name, sig))
    failed = [c for c in checks if c.mismatch_rate > c.signature_spec.allowed_mismatch]
    if failed:
        raise ExportError(
            f"LiteRT outputs of {model.name} differ from Keras: "
            + "; ".join(f"{c.signature}/{c.output} by up to {c.max_abs_error:.3g} in {100 * c.mismatch_rate:.4f}% of elements" for c in failed)
        )
    paths.write_atomically(path, content)
    n = len(next(iter(signatures.values())).samples[0])
    return ExportReport(str(path), len(content), tuple(ops), n, sample_source, checks)


def _signatures_for(model):
    for cls in type(model).__mro__:
        if cls in _SIGNATURES:
            return _SIGNATURES[cls]
    return default_signatures


def _convert(model, signatures, int8_weights=False):
    """The LiteRT flatbuffer with one signature per entry point (Flex ops allowed here, refused by the caller)."""
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved_model:
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, sig in signatures.items():
            archive.add_endpoint(name, sig.function, input_signature=sig.input_specs)
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=list(signatures))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        if int8_weights:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        try:
            return converter.convert()
        except Exception as e:
            unsupported = re.findall(r"(?:Custom|Flex) ops: ([^\n]+)", str(e))
            if not unsupported:
                raise
            raise ExportError(f"{model.name} needs ops LiteRT has no builtin for: {'; '.join(unsupported)}") from None


def _check(interpreter, name, sig):
    runner = interpreter.get_signature_runner(name)
    inputs = {spec.name: np.asarray(x).astype(spec.dtype.as_numpy_dtype) for spec, x in zip(sig.input_specs, sig.samples)}
    got = runner(**inputs)
    want = {k: np.asarray(v) for k, v in sig.function(*sig.samples).items()}
    checks = []
    for output, expected in want.items():
        actual = got[output].astype(np.float64)
        expected = expected.astype(np.float64)
        error = np.abs(actual - expected)
        mismatch = error > sig.atol + sig.rtol * np.abs(expected)
        checks.append(OutputCheck(name, output, float(error.max(initial=0)), float(mismatch.mean()), sig))
    return checks


def run_litert(interpreter, samples, signature="serve"):
    """The single output of a LiteRT signature on a batch of samples."""
    runner = interpreter.get_signature_runner(signature)
    (name,) = runner.get_input_details()
    (out,) = runner(**{name: samples}).values()
    return out


def sample_inputs(spec, n, data_dir=None):
    """`(images, source)`: the first `n` uint8 images of the model's evaluation split, or random ones without data."""
    recipe = spec.recipe
    try:
        ds = recipe.load(recipe.eval_split, data_dir).take(n).batch(n)
        images, _ = next(iter(ds))
        return images.numpy(), f"{recipe.dataset} {recipe.eval_split}"
    except DataNotFoundError:
        model = spec.builder()
        shape = getattr(model, "image_shape", None) or model.input_shape[1:]
        return np.random.default_rng(0).integers(0, 256, (n, *shape)).astype(np.uint8), "random, data set not found"
