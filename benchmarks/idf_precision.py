"""How far an IDF model's mixed precision (`IntegerDiscreteFlow.set_mixed_precision`: bfloat16 hidden
convolutions, what `zoo train --mixed-precision` trains in) moves its bits from float32, crop by crop, on
the training crops it would see: the same weights, the same crops, both precisions in one run.

Training in mixed precision steers by the bfloat16 bits; where those differ from float32's by much, the
gradients do too. The table groups crops by their float32 bits (flat crops cost little, and the priors
predict them with narrow logistics, which a small error in a mean costs most).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_precision.py idf-photos --batches 100

Writes results/idf_precision_<model>.md.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

GROUPS = ((0.0, 2.5), (2.5, 3.5), (3.5, 4.5), (4.5, 99.0))  # float32 bits/dim of a crop


def per_crop_bits(weights, name, batches, batch_size, seed):
    """(float32 bits/dim, mixed-precision bits/dim) of each of `batches` x `batch_size` training crops of model
    `name`, with its published weights or the weights file `weights`."""
    import keras
    import tensorflow as tf

    import zoo
    from zoo import registry

    recipe = registry.spec(name).recipe
    keras.utils.set_random_seed(seed)
    full, mixed = zoo.load(name), zoo.load(name)
    if weights:
        full.load_weights(weights)
        mixed.load_weights(weights)
    mixed.set_mixed_precision(True)
    run_full, run_mixed = tf.function(full.__call__), tf.function(mixed.__call__)
    crops = recipe.pipeline(recipe.train_split, batch_size, training=True).take(batches)
    pairs = [(run_full(x).numpy(), run_mixed(x).numpy()) for x, _ in tqdm(crops, total=batches, desc=name, unit="batch")]
    return np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a registered IDF model, e.g. idf-photos")
    parser.add_argument("--weights", help="a weights file of that model instead of its published one")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    full, mixed = per_crop_bits(args.weights, args.model, args.batches, args.batch_size, args.seed)
    diff = mixed - full
    rows = []
    for low, high in GROUPS:
        at = (full >= low) & (full < high)
        if at.any():
            d = np.abs(diff[at])
            rows.append([f"{low:g} - {high:g}" if high < 99 else f"{low:g} and more", str(int(at.sum())),
                         f"{diff[at].mean():+.4f}", f"{np.median(d):.4f}", f"{np.percentile(d, 99):.4f}", f"{d.max():.4f}"])
    d = np.abs(diff)
    rows.append(["all", str(len(full)), f"{diff.mean():+.4f}", f"{np.median(d):.4f}", f"{np.percentile(d, 99):.4f}",
                 f"{d.max():.4f}"])
    table = markdown_table(["float32 bits/dim of the crop", "crops", "mean mixed - float32", "median |difference|",
                            "99th percentile", "largest"], rows)
    print(table)
    write_results(f"idf_precision_{args.model}", f"{args.model}: bits/dim of training crops in mixed precision "
                  "against float32, the same weights and crops", table,
                  notes=f"{args.batches} batches of {args.batch_size} training crops (the recipe's pipeline, "
                        f"augmentation included, seed {args.seed}); weights: {args.weights or 'the published ones'}.")


if __name__ == "__main__":
    main()
