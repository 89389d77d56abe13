"""Where a trained SNF's weight updates point: the expected gradient of each flow layer's kernel, over
training batches, split into the SNF likelihood term (what replaces the exact gradient), the
reconstruction term lambda ||x - R W x||^2, and the exact likelihood gradient (autodiff through slogdet)
of the same weights. Near convergence the exact gradient is small and a large reconstruction term decides
where W settles.

Writes results/snf_gradient_bias.md (or results/<--results>.md). The reconstruction term is the gradient
W actually receives: with `reconstruction_trains` a share s, s times the full term.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/snf_gradient_bias.py snf-fc-mnist --batches 30
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import registry  # noqa: E402


def _nll(model, x, training):
    z, log_det = model.forward(x, training=training)
    return -tf.reduce_mean(model.prior_log_prob(z) + log_det)


def expected_gradients(model, batches):
    """{term: [mean gradient of each linear layer's kernel]} over `batches` of uint8 images.

    "snf": the SNF likelihood gradient (times 2, undoing the 1/2 of the symmetric objective, so that it
    estimates the exact one); "reconstruction": the reconstruction loss's (times 2, likewise, as Adam
    sees it beside the other); "exact": autodiff of the exact NLL.
    """
    kernels = [layer.kernel for layer in model.linear_layers()]
    sums = {term: [np.zeros(k.shape) for k in kernels] for term in ("snf", "reconstruction", "exact")}
    for n, images in enumerate(tqdm(batches, desc="batches"), 1):
        x = tf.cast(images, "float32") + tf.random.uniform(images.shape, seed=n)  # one dequantization for all three
        with tf.GradientTape(persistent=True) as tape:
            snf = _nll(model, x, training=True)
            reconstruction = tf.add_n(model.losses)
            exact = _nll(model, x, training=False)
        for term, value, scale in (("snf", snf, 2), ("reconstruction", reconstruction, 2), ("exact", exact, 1)):
            for total, grad in zip(sums[term], tape.gradient(value, kernels)):
                total += scale * grad.numpy()
    return {term: [g / n for g in grads] for term, grads in sums.items()}


def _cos(a, b):
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--results", default="snf_gradient_bias", help="results file name")
    args = parser.parse_args(argv)
    rows = []
    for name in args.names:
        recipe = registry.spec(name).recipe
        model = zoo.load(name)
        batches = [x for x, _ in recipe.pipeline(recipe.train_split, recipe.batch_size, training=True).take(args.batches)]
        g = expected_gradients(model, batches)
        for i, layer in enumerate(model.linear_layers()):
            exact, snf, rec = g["exact"][i], g["snf"][i], g["reconstruction"][i]
            rows.append([f"`{name}`", layer.name, f"{np.linalg.norm(exact):.3g}", f"{np.linalg.norm(snf - exact):.3g}",
                         f"{np.linalg.norm(rec):.3g}", f"{_cos(exact, snf):.3f}", f"{_cos(exact, snf + rec):.3f}"])
            print(rows[-1], flush=True)
    table = markdown_table(["model", "layer", "exact gradient norm", "SNF likelihood term minus exact, norm",
                            "reconstruction term norm", "cos(exact, SNF likelihood term)",
                            "cos(exact, SNF update: likelihood + reconstruction)"], rows)
    print(table)
    write_results(args.results, f"Expected kernel gradients of the published SNF flows, {args.batches} training "
                  "batches", table)


if __name__ == "__main__":
    main()
