"""HexaConv in numbers, in one run: layer speed against Conv2D, and the four variants side by side.

1. Forward time of HexConv2D, P6GroupConv and P6MGroupConv (lifting and
   group-to-group) against a plain Conv2D with the same input and the same
   number of output channels, and, if it is installed (`pip install
   keras-hexagdly`), keras-hexagdly's hexagonal convolution of that size as a peer.
2. Per registered HexaConv model: free parameters, the published test
   accuracy (if trained) and training throughput.
3. Robustness (with --robustness): accuracy of each trained AID model on the
   test images rotated by k x 60 degrees on the hexagonal lattice (k = 0..5)
   and mirrored. Lattice models get the transformed hexagonal map directly;
   the z2 model gets it drawn back onto the square grid (nearest cell), and
   its rot 0 column is that round trip too, so every lattice column sees one
   pipeline. The first column is each model on the untouched square images.

Usage:
    python benchmarks/hexaconv.py [--size 65] [--batch 16] [--repeats 10] [--robustness]

Writes results/hexaconv_layer_speed.md, results/hexaconv_models.md and, with --robustness,
results/hexaconv_robustness.md.
"""

import argparse
import sys
import time
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import data, registry  # noqa: E402
from zoo.hexaconv import (  # noqa: E402
    HexConv2D,
    P6GroupConv,
    P6MGroupConv,
    hex_to_square,
    mirror,
    rotate60,
    square_to_hex,
)
from zoo.hexaconv.models import free_parameters  # noqa: E402

TRANSFORMS = [(f"rot {60 * k}", lambda h, k=k: rotate60(h, k)) for k in range(6)] + [("mirror", mirror)]


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
    try:
        import keras_hexagdly
    except ImportError:
        peer = "keras-hexagdly is not installed (pip install keras-hexagdly): no peer row"
    else:  # the same 7-cell hexagonal kernel (one ring) on offset-coordinate storage of the same size
        cases.insert(1, ("keras-hexagdly Conv2d (peer)", keras_hexagdly.Conv2d(filters, kernel_size=1), planar, filters))
        peer = f"peer: keras-hexagdly {keras_hexagdly.__version__}, Conv2d(filters, kernel_size=1) (7 cells)"
    for name, layer, x, outputs in tqdm(cases, desc="layers"):
        flat_in = x.reshape(batch, size, size, -1)
        conv = keras.layers.Conv2D(outputs, 3, padding="same")
        ours, base = _seconds(layer, x, repeats), _seconds(conv, flat_in, repeats)
        rows.append((name, f"{tuple(x.shape[1:])} -> {outputs} ch", ours * 1e3, base * 1e3, ours / base))
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


def robustness_table(names, images, labels, batch=100):
    """[(model, [accuracy on the square images, then per transform])] on the AID test images."""
    rows = []
    for name in tqdm(names, desc="robustness"):
        model = zoo.load(name)
        to_hex = lattice_model = None
        try:
            to_hex, lattice_model = model.get_layer("to_hex"), model.get_layer("hex_classifier")
        except ValueError:
            pass
        radius = to_hex.radius if to_hex else images.shape[1] // 2  # the lattice models' geometry
        plain = np.argmax(model.predict(images, batch_size=batch, verbose=0), -1)
        accuracies = [float(np.mean(plain == labels))]  # the untouched square images, the published metric
        for _, transform in TRANSFORMS:
            correct = 0
            for i in range(0, len(images), batch):
                x = images[i : i + batch]
                if lattice_model is not None:  # scale, resample, transform: the model's own pipeline
                    logits = lattice_model(transform(square_to_hex(x.astype("float32") / 127.5 - 1.0, radius)))
                else:
                    hexes = transform(square_to_hex(x.astype("float32"), radius))
                    square = np.clip(np.rint(hex_to_square(keras.ops.convert_to_numpy(hexes), x.shape[1])), 0, 255)
                    logits = model(square.astype("uint8"))
                correct += int(np.sum(np.argmax(keras.ops.convert_to_numpy(logits), -1) == labels[i : i + batch]))
            accuracies.append(correct / len(images))
        rows.append((name, accuracies))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=65, help="storage side of the layer inputs (default 65)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--channels", type=int, default=8, help="input channels per group element")
    parser.add_argument("--filters", type=int, default=8, help="output channels per group element")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--robustness", action="store_true", help="also the rotated / mirrored AID test table")
    parser.add_argument("--images", type=int, default=2000, help="AID test images for --robustness (default all)")
    args = parser.parse_args(argv)

    rows, peer = layer_table(args.size, args.batch, args.channels, args.filters, args.repeats)
    table = markdown_table(
        ["layer", "input -> output", "ms", "Conv2D ms (same input, same output channels)", "ratio"],
        [[name, io, f"{ours:.1f}", f"{base:.1f}", f"{ratio:.2f}"] for name, io, ours, base, ratio in rows],
    )
    print(table)
    write_results("hexaconv_layer_speed", f"HexaConv layers against Conv2D: forward time, batch {args.batch}, 3x3 kernels",
                  table, notes=peer)

    table = markdown_table(
        ["model", "free parameters", "test accuracy", "train img/s"],
        [[name, f"{params:,}", f"{accuracy:.4f}" if accuracy is not None else "not trained yet", f"{throughput:.1f}"]
         for name, params, accuracy, throughput in model_table(args.batch, args.repeats)],
    )
    print(table)
    write_results("hexaconv_models", f"HexaConv classifiers (training throughput: batch {args.batch}, {args.repeats} steps)", table)

    if args.robustness:
        trained = zoo.list_models("hexaconv-*-aid", pretrained=True)
        ds = data.load("aid64", "test").take(args.images).batch(500)
        pairs = [(x.numpy(), y.numpy()) for x, y in ds]
        images, labels = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
        table = markdown_table(
            ["model", "square image", *(name for name, _ in TRANSFORMS)],
            [[name, *(f"{a:.4f}" for a in accuracies)] for name, accuracies in robustness_table(trained, images, labels)],
        )
        print(table)
        write_results("hexaconv_robustness",
                      f"AID test ({len(images)} images) transformed on the hexagonal lattice: accuracy", table)

if __name__ == "__main__":
    main()
