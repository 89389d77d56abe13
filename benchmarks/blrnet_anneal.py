"""Annealing probe for a PBNet on the validation split: from the published checkpoint, a few steps at a
low peak learning rate (Adam, cosine decay) with the weight-variance penalty `beta * mean(1 - theta^2)`
on every binary layer (`zoo.blrnet.WeightVariance`, the builder's `weight_variance`), then the MAP binary network measured on the
whole validation split. beta = 0 separates what the low learning rate does from what the penalty does.
This is how the annealing phase of a PBNet recipe is chosen; the test split is never touched.

Writes results/anneal_<name>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/blrnet_anneal.py blrnet-cifar10 --lr 3e-3 --betas 0 0.1 1
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
from zoo import registry  # noqa: E402


def theta_summary(model):
    """Mean |theta| and the fraction of weights with |theta| > 0.99, over every binary layer."""
    thetas = np.concatenate([np.abs(layer.theta.numpy()).ravel() for layer in model.layers if hasattr(layer, "theta")])
    return float(thetas.mean()), float((thetas > 0.99).mean())


def anneal(name, lr, beta, steps, data_dir=None):
    """(validation metrics, mean |theta|, share of |theta| > 0.99, s/step) after `steps` annealing steps."""
    recipe = registry.spec(name).recipe
    keras.utils.set_random_seed(recipe.seed)
    model = zoo.load(name, weight_variance=beta)  # the published weights, the penalty on every binary layer
    fitted, loss = recipe.fit_target(model)
    fitted.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.01)), loss)
    start = time.perf_counter()
    fitted.fit(recipe.pipeline(recipe.train_split, recipe.batch_size, training=True, data_dir=data_dir).take(steps), verbose=0)
    seconds = (time.perf_counter() - start) / steps
    metrics = recipe.evaluator(model, recipe, recipe.validation_split, data_dir)
    return metrics, *theta_summary(model), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--betas", nargs="+", type=float, default=[0.0, 0.1, 1.0])
    parser.add_argument("--steps", type=int, default=450)
    args = parser.parse_args(argv)
    recipe = registry.spec(args.name).recipe
    published = zoo.load(args.name)
    start_metrics = recipe.evaluator(published, recipe, recipe.validation_split)
    rows = [["published checkpoint", "-", "-", f"{start_metrics['map_accuracy']:.4f}", f"{start_metrics['accuracy']:.4f}",
             *("%.3f" % v for v in theta_summary(published)), "-"]]
    print(rows[-1], flush=True)
    for beta in tqdm(args.betas, desc="penalties"):
        metrics, mean_abs, saturated, seconds = anneal(args.name, args.lr, beta, args.steps)
        rows.append([f"{args.steps} steps", f"{args.lr:g}", f"{beta:g}", f"{metrics['map_accuracy']:.4f}",
                     f"{metrics['accuracy']:.4f}", f"{mean_abs:.3f}", f"{saturated:.3f}", f"{seconds:.3f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["run", "peak learning rate", "beta", "validation MAP accuracy", "validation accuracy (stochastic)",
                            "mean abs theta", "share abs theta > 0.99", "s/step"], rows)
    print(table)
    write_results(f"anneal_{args.name}", f"{args.name}: annealing towards binary weights, from the published checkpoint", table)


if __name__ == "__main__":
    main()
