"""Two IDF layers timed both ways at the shapes `idf-photos` runs on a 768x512 photograph.

- The coupling heads (3x3 convolutions from the hidden width to few channels): `keras.layers.Conv2D`
  against `zoo.idf.ThinConv2D` (a product over the taps, a depthwise shift, a sum), same weights.
- The channel permutation: a gather along the channel axis (`ops.take(x, order, axis=-1)`) against
  the layer's transposed take of whole channel planes (exact both ways).

The two ways of each row alternate `--repeats` times in one process and the table gives the medians,
so both see the same load. `ConvNet` takes the thin head below `THIN_OUTPUTS` output channels.

Usage:
    python benchmarks/idf_layer_speed.py
"""

import argparse
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

from zoo.idf.layers import THIN_OUTPUTS, ThinConv2D, _take_channels  # noqa: E402

HEIGHT, WIDTH, LEVELS, CHANNELS, HIDDEN = 512, 768, 5, 3, 128  # idf-photos on a landscape Kodak photograph


def _median_ms(functions, x, repeats):
    """Median milliseconds of each function on x, the functions taking turns."""
    for f in functions:
        f(x)  # trace
    times = [[] for _ in functions]
    for _ in range(repeats):
        for f, t in zip(functions, times):
            start = time.perf_counter()
            ops.convert_to_numpy(f(x))
            t.append(1e3 * (time.perf_counter() - start))
    return [float(np.median(t)) for t in times]


def _graph(f):
    return tf.function(f, autograph=False)


def heads(repeats, rng):
    rows = []
    for level in range(LEVELS):
        h, w, channels = HEIGHT >> (level + 1), WIDTH >> (level + 1), CHANNELS * 4 ** (level + 1) // 2**level
        out = channels // 4  # a coupling translates a quarter of the channels
        x = ops.convert_to_tensor(rng.normal(size=(1, h, w, HIDDEN)), "float32")
        plain, thin = keras.layers.Conv2D(out, 3, padding="same"), ThinConv2D(out, 3, padding="same")
        plain.build(x.shape)
        thin.build(x.shape)
        kernel = rng.normal(size=(3, 3, HIDDEN, out)) * 0.05
        for layer in (plain, thin):
            layer.set_weights([kernel, np.zeros(out)])
        error = float(np.abs(ops.convert_to_numpy(plain(x) - thin(x))).max())
        a, b = _median_ms([_graph(plain), _graph(thin)], x, repeats)
        used = "thin" if out < THIN_OUTPUTS else "Conv2D"
        rows.append([f"{level}", f"{h}x{w}, {HIDDEN} -> {out}", f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}", f"{error:.1e}", used])
        print(rows[-1], flush=True)
    return markdown_table(["level", "head (H x W, channels in -> out)", "Conv2D ms", "ThinConv2D ms", "speed-up",
                           "max difference", "idf-photos uses"], rows)


def permutations(repeats, rng):
    rows = []
    for level in range(LEVELS):
        h, w, channels = HEIGHT >> (level + 1), WIDTH >> (level + 1), CHANNELS * 4 ** (level + 1) // 2**level
        x = ops.convert_to_tensor(rng.integers(-512, 512, size=(1, h, w, channels)), "float32")
        order = ops.convert_to_tensor(rng.permutation(channels), "int32")
        gather, planes = _graph(lambda x: ops.take(x, order, axis=-1)), _graph(lambda x: _take_channels(x, order))
        exact = np.array_equal(ops.convert_to_numpy(gather(x)), ops.convert_to_numpy(planes(x)))
        a, b = _median_ms([gather, planes], x, repeats)
        rows.append([f"{level}", f"{h}x{w}x{channels}", f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}", "yes" if exact else "NO"])
        print(rows[-1], flush=True)
    return markdown_table(["level", "latent", "gather on channels ms", "channel planes ms", "speed-up", "identical"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    table = heads(args.repeats, rng) + "\n\n" + permutations(args.repeats, rng)
    write_results("idf_layer_speed", "IDF coupling heads and channel permutations, both ways, at idf-photos' shapes "
                  "(one 768x512 photograph, medians)", table,
                  notes=f"Batch 1; each pair alternated {args.repeats} times in one process. A level's latent has "
                        "twice the channels of the one before at a quarter of the positions.")


if __name__ == "__main__":
    main()
