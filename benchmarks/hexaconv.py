"""HexaConv in numbers, in one run: layer speed against Conv2D, and the four variants side by side.

1. Forward time of HexConv2D, P6GroupConv and P6MGroupConv (lifting and
   group-to-group) against a plain Conv2D with the same input and the same
   number of output channels, and, if it is installed, keras-hexagdly's
   hexagonal convolution of that size as a peer.
2. Per registered HexaConv model: free parameters, the published test
   accuracy (if trained) and training throughput.

Usage:
    python benchmarks/hexaconv.py [--size 65] [--batch 16] [--repeats 10]
"""

import argparse
import time

import keras
import numpy as np
from tqdm import tqdm

import zoo
from zoo import registry
from zoo.hexaconv import HexConv2D, P6GroupConv, P6MGroupConv
from zoo.hexaconv.models import free_parameters


def _seconds(layer, x, repeats):
    import tensorflow as tf

    layer(x)  # build
    fn = tf.function(layer)  # graph mode for both sides, so Python overhead does not decide the ratio
    fn(x)  # trace and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        keras.ops.convert_to_numpy(fn(x))
    return (time.perf_counter() - start) / repeats


def layer_table(size, batch, channels, filters, repeats):
    rng = np.random.default_rng(0)
    planar = rng.normal(size=(batch, size, size, channels)).astype("float32")
    rows = []
    cases = [
        ("HexConv2D", HexConv2D(filters), planar, filters),
        ("P6GroupConv, lifting", P6GroupConv(filters), planar, 6 * filters),
        ("P6GroupConv, p6 -> p6", P6GroupConv(filters), rng.normal(size=(batch, size, size, 6, channels)).astype("float32"), 6 * filters),
        ("P6MGroupConv, lifting", P6MGroupConv(filters), planar, 12 * filters),
        ("P6MGroupConv, p6m -> p6m", P6MGroupConv(filters), rng.normal(size=(batch, size, size, 12, channels)).astype("float32"), 12 * filters),
    ]
    for name, layer, x, outputs in tqdm(cases, desc="layers"):
        flat_in = x.reshape(batch, size, size, -1)
        conv = keras.layers.Conv2D(outputs, 3, padding="same")
        ours, base = _seconds(layer, x, repeats), _seconds(conv, flat_in, repeats)
        rows.append((name, f"{tuple(x.shape[1:])} -> {outputs} ch", ours * 1e3, base * 1e3, ours / base))
    try:
        import keras_hexagdly  # noqa: F401
    except ImportError:
        peer = "keras-hexagdly is not installed (pip install keras-hexagdly): no peer row"
    else:
        peer = "keras-hexagdly installed: peer rows are not wired in yet"
    return rows, peer


def model_table(batch, repeats):
    rows = []
    for name in tqdm(zoo.list_models("hexaconv-*"), desc="models"):
        spec = registry.spec(name)
        model = spec.builder()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        shape = model.input_shape[1:]
        x = np.random.default_rng(0).integers(0, 256, (batch * (repeats + 1), *shape)).astype("uint8")
        y = np.zeros(len(x), "int64")
        model.fit(x[:batch], y[:batch], batch_size=batch, verbose=0)
        start = time.perf_counter()
        model.fit(x[batch:], y[batch:], batch_size=batch, verbose=0)
        throughput = batch * repeats / (time.perf_counter() - start)
        accuracy = zoo.info(name).get("metrics", {}).get("accuracy")
        rows.append((name, free_parameters(model), accuracy, throughput))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=65, help="storage side of the layer inputs (default 65)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--channels", type=int, default=8, help="input channels per group element")
    parser.add_argument("--filters", type=int, default=8, help="output channels per group element")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    rows, peer = layer_table(args.size, args.batch, args.channels, args.filters, args.repeats)
    print(f"\nForward time, batch {args.batch}, 3x3 kernels, 2 CPU cores")
    print("| layer | input -> output | ms | Conv2D ms (same input, same output channels) | ratio |")
    print("|---|---|---|---|---|")
    for name, io, ours, base, ratio in rows:
        print(f"| {name} | {io} | {ours:.1f} | {base:.1f} | {ratio:.2f} |")
    print(peer)

    print(f"\nHexaConv classifiers (training throughput: batch {args.batch}, {args.repeats} steps)")
    print("| model | free parameters | test accuracy | train img/s |")
    print("|---|---|---|---|")
    for name, params, accuracy, throughput in model_table(args.batch, args.repeats):
        shown = f"{accuracy:.4f}" if accuracy is not None else "not trained yet"
        print(f"| {name} | {params:,} | {shown} | {throughput:.1f} |")


if __name__ == "__main__":
    main()
