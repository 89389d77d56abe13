"""Learning-rate probe on the validation split: a registered model trained briefly from its recipe's
starting point at each peak learning rate (Adam, cosine decay over the probe), then measured on the
whole validation split with the recipe's own metric (its evaluator where it has one). This is how a recipe's learning
rate is chosen; the test split is never touched.

Writes results/lr_<name>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/lr_probe.py blrnet-mnist 3e-3 1e-2 3e-2 1e-1 3e-1
"""

import argparse
import sys
import time
from pathlib import Path

import keras
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

from zoo import registry  # noqa: E402


def probe(name, lr, steps, data_dir=None):
    """{metric: value} on the validation images after `steps` steps at peak learning rate `lr`."""
    spec = registry.spec(name)
    recipe = spec.recipe
    keras.utils.set_random_seed(recipe.seed)
    model = spec.builder()
    if recipe.initialize is not None:
        recipe.initialize(model)
    schedule = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.01)
    fitted, loss = recipe.fit_target(model)
    fitted.compile(keras.optimizers.Adam(schedule), loss, metrics=list(recipe.metrics))
    start = time.perf_counter()
    fitted.fit(recipe.pipeline(recipe.train_split, recipe.batch_size, training=True, data_dir=data_dir).take(steps), verbose=0)
    seconds = (time.perf_counter() - start) / steps
    split = recipe.validation_split
    if recipe.evaluator is not None:
        metrics = recipe.evaluator(model, recipe, split, data_dir)
    else:
        metrics = fitted.evaluate(recipe.pipeline(split, 500, training=False, data_dir=data_dir), return_dict=True, verbose=0)
    return metrics[recipe.metric], seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("lrs", nargs="+", type=float)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    metric = registry.spec(args.name).recipe.metric
    rows = []
    for lr in tqdm(args.lrs, desc="learning rates"):
        value, seconds = probe(args.name, lr, args.steps)
        rows.append([f"{lr:g}", f"{value:.4f}", f"{seconds:.3f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["peak learning rate", f"validation {metric}", "s/step"], rows)
    print(table)
    write_results(f"lr_{args.name}", f"{args.name}: {args.steps} steps per learning rate, then the whole validation split", table)


if __name__ == "__main__":
    main()
