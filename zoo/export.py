"""Export to LiteRT (`.tflite`) with builtin ops only, checked against Keras.

Example:
    >>> import zoo
    >>> from zoo import export
    >>> model = zoo.load("cnn-small-mnist")
    >>> report = export.to_litert(model, "cnn.tflite", samples=images_uint8)
    >>> print(report)          # size, ops, max |LiteRT - Keras| against the tolerance
    $ zoo export cnn-small-mnist cnn.tflite
"""

import dataclasses
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from zoo.errors import DataNotFoundError, ExportError


@dataclasses.dataclass(frozen=True)
class ExportReport:
    path: str
    size_bytes: int
    ops: tuple  # distinct builtin op names in the flatbuffer
    samples: int
    sample_source: str
    max_abs_error: float
    atol: float
    rtol: float

    def __str__(self):
        return (
            f"LiteRT export {self.path} ({self.size_bytes / 1024:.1f} KiB), builtin ops only: {', '.join(self.ops)}\n"
            f"checked on {self.samples} samples ({self.sample_source}): max |LiteRT - Keras| = "
            f"{self.max_abs_error:.3g}, within atol {self.atol:g} + rtol {self.rtol:g} * |Keras|"
        )


def to_litert(model, path, samples, *, atol=1e-5, rtol=1e-4, sample_source="given"):
    """Write `model` to `path` as LiteRT, refusing Flex/custom ops, and check its outputs on `samples`.

    `samples` is a batch of inputs (a NumPy array). The file is written only if
    the LiteRT outputs match Keras's within `atol + rtol * |keras|`; otherwise
    `ExportError` says by how much they differ.
    """
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if path.suffix != ".tflite":
        raise ExportError(f"LiteRT files end in .tflite; got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tflite", dir=path.parent, prefix=f".{path.stem}-")
    os.close(fd)
    try:
        try:
            model.export(tmp, format="litert", verbose=False)
        except Exception as e:
            unsupported = re.findall(r"(?:Custom|Flex) ops: ([^\n]+)", str(e))
            if not unsupported:
                raise
            raise ExportError(f"{model.name} needs ops LiteRT has no builtin for: {'; '.join(unsupported)}") from None
        interpreter = Interpreter(model_path=tmp)
        ops = sorted({op["op_name"] for op in interpreter._get_ops_details()})
        non_builtin = [op for op in ops if op.startswith("Flex") or not op.isupper()]
        if non_builtin:
            raise ExportError(f"{model.name} needs Select TF (Flex) or custom ops: {', '.join(non_builtin)}")
        got = run_litert(interpreter, samples)
        want = np.asarray(model.predict(samples, verbose=0))
        error = float(np.max(np.abs(got - want))) if got.size else 0.0
        if not np.allclose(got, want, atol=atol, rtol=rtol):
            raise ExportError(
                f"LiteRT outputs of {model.name} differ from Keras by up to {error:.3g} "
                f"(tolerance atol {atol:g} + rtol {rtol:g} * |Keras|)"
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return ExportReport(str(path), path.stat().st_size, tuple(ops), len(samples), sample_source, error, atol, rtol)


def run_litert(interpreter, samples):
    """The interpreter's single output on a batch of samples."""
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], samples.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], samples.astype(inp["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def sample_inputs(spec, n, data_dir=None):
    """`(inputs, source)`: the first `n` images of the model's evaluation split, or random ones without data."""
    recipe = spec.recipe
    try:
        ds = recipe.load(recipe.eval_split, data_dir).take(n).batch(n)
        images, _ = next(iter(ds))
        return images.numpy(), f"{recipe.dataset} {recipe.eval_split}"
    except DataNotFoundError:
        model_input = spec.builder().inputs[0]
        shape = (n, *model_input.shape[1:])
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, shape).astype(model_input.dtype), "random, data set not found"
