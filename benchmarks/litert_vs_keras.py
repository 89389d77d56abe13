"""Keras against its LiteRT export, per published classifier: agreement, size and speed, in one table.

(Not named litert.py: TensorFlow imports a top-level `litert` module when it is there, and a
script puts its folder first on the path.)

(Integer flows export `forward`/`inverse` signatures; `zoo export idf-cifar10 idf.tflite` checks those.)

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/litert_vs_keras.py [--samples 256] [NAME ...]

Without NAMEs it writes results/litert_vs_keras.md.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import export, registry  # noqa: E402


def _time_per_image(fn, batch, repeats=5):
    fn(batch)  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        fn(batch)
    return (time.perf_counter() - start) / (repeats * len(batch)) * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="default: every model with a checkpoint")
    parser.add_argument("--samples", type=int, default=256, help="test images per model (default 256)")
    args = parser.parse_args(argv)
    from ai_edge_litert.interpreter import Interpreter

    rows = []
    classifiers = [n for n in zoo.list_models(pretrained=True) if registry.spec(n).recipe.metric == "accuracy"]
    for name in tqdm(args.names or classifiers, desc="models"):
        spec = registry.spec(name)
        model = zoo.load(name)
        samples, source = export.sample_inputs(spec, args.samples)
        with tempfile.TemporaryDirectory() as tmp:
            report = export.to_litert(model, Path(tmp) / f"{name}.tflite", samples=samples, sample_source=source)
            interpreter = Interpreter(model_path=report.path)
            keras_ms = _time_per_image(lambda x: model.predict(x, batch_size=len(x), verbose=0), samples)
            litert_ms = _time_per_image(lambda x: export.run_litert(interpreter, x), samples)
            agree = np.mean(np.argmax(export.run_litert(interpreter, samples), -1) == np.argmax(model.predict(samples, verbose=0), -1))
        rows.append((name, model.count_params(), report.size_bytes / 1024, report.max_abs_error, agree, keras_ms, litert_ms, source))

    header = ("model", "params", "tflite KiB", "max abs diff", "same argmax", "Keras ms/img", "LiteRT ms/img", "samples")
    table = markdown_table(header, [
        [r[0], f"{r[1]:,}", f"{r[2]:.0f}", f"{r[3]:.2g}", f"{r[4]:.4f}", f"{r[5]:.3f}", f"{r[6]:.3f}", r[7]] for r in rows
    ])
    print(table)
    if not args.names:  # the README's table is the run over every published classifier
        write_results("litert_vs_keras", f"Keras against its LiteRT export, {args.samples} images per model", table)

if __name__ == "__main__":
    main()
