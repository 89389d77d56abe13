"""How long one training step of an IDF model takes, in float32 and in mixed precision, and where it goes.

Times the compiled training step (forward, gradient, Adam update) on a batch of random crops of the
training photographs, side by side in one process: float32, then with the hidden convolutions in
bfloat16 (`IntegerDiscreteFlow.set_mixed_precision`, what `zoo train --mixed-precision` does). The
second table is TensorFlow's profile of the float32 step by operation type: what there is to gain where.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_train_step.py idf-photos --batch 16 --crop 128
"""

import argparse
import collections
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import data, registry  # noqa: E402


def training_step(model):
    """A compiled training step of `model` (its mean bits per dimension, Adam at a negligible rate)."""
    optimizer = keras.optimizers.Adam(1e-12)

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(images, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    return step


def seconds_per_step(step, images, steps):
    """Seconds of one step, after two to trace and warm up."""
    step(images), step(images)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(images)
    loss.numpy()
    return (time.perf_counter() - start) / steps


def op_shares(step, images, top):
    """[(operation type, share of the step's op time)] of the `top` largest, from TensorFlow's profiler."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        step(images).numpy()
        tf.profiler.experimental.stop()
        path = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[-1]
        raw, _ = plugin.xspace_to_tools_data([path], "framework_op_stats", {})
    table = json.loads(raw)[0]
    columns = [c["id"] for c in table["cols"]]
    spent = collections.Counter()
    for row in table["rows"]:
        cells = dict(zip(columns, (c.get("v") for c in row["c"])))
        if cells["type"] != "IDLE":
            spent[cells["type"]] += cells["total_self_time"]
    total = sum(spent.values())
    return [(kind, seconds / total) for kind, seconds in spent.most_common(top)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="idf-photos", help="a registered IDF model")
    parser.add_argument("--batch", type=int, default=16, help="crops per step")
    parser.add_argument("--crop", type=int, default=128, help="crop side in pixels")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per precision")
    parser.add_argument("--results", default="idf_train_step", help="results file name")
    args = parser.parse_args(argv)
    recipe = registry.spec(args.model).recipe
    files = data.photo_files(recipe.collection, recipe.train_split)
    crops = data.photo_crops(files, args.crop, args.batch, recipe.mode).batch(args.batch)
    images = tf.constant(next(iter(crops))[0])
    model = zoo.load(args.model)
    rows, shares = [], None
    for enabled in (False, True):
        model.set_mixed_precision(enabled)
        step = training_step(model)  # traced in this precision
        seconds = seconds_per_step(step, images, args.steps)
        rows.append(["mixed (bfloat16 hidden convolutions)" if enabled else "float32", f"{seconds:.3f}",
                     f"{images.shape[0] * args.crop**2 / seconds / 1e6:.3f}"])
        print(rows[-1], flush=True)
        if not enabled:
            shares = op_shares(step, images, top=6)
    rows.append(["speed-up", f"{float(rows[0][1]) / float(rows[1][1]):.2f}x", ""])
    table = markdown_table(["precision", f"seconds per step ({args.batch} crops of {args.crop})", "Mpx/s"], rows)
    ops = markdown_table(["operation type (float32 step)", "share of its op time"],
                         [[f"`{kind}`", f"{100 * share:.1f}%"] for kind, share in shares])
    tables = table + "\n\n" + ops
    print(tables)
    write_results(args.results, f"`{args.model}`: one training step, float32 against mixed precision", tables,
                  notes="Steps timed after two warm-up steps, on the machine's cores as the script found them. "
                        "Mixed precision changes the numbers a step computes (not the published float32 model "
                        "or its codec); whether it trains as well is a separate question, decided on validation.")


if __name__ == "__main__":
    main()
