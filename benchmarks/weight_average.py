"""Does validating an average of the weights pay? One continuation of a published checkpoint by its recipe
(at `--lr-scale` of its rate), and after every epoch the validation metric of the weights themselves and of
exponential moving averages of them at several momenta, all from the one trajectory, side by side.

The averages are updated after every step, starting from the weights after the first (as Keras's
`use_ema`, which `zoo train --weight-average MOMENTUM` uses, does). The test split is not touched.

Writes results/weight_average_<name>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/weight_average.py idf-photos --epochs 6 --lr-scale 0.1
"""

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

from zoo import hub, checkpoint, registry, training  # noqa: E402


class MovingAverages(keras.callbacks.Callback):
    """Exponential moving averages of `variables` after every step, one per momentum; after each epoch,
    `measure()` of the weights themselves and of each average."""

    def __init__(self, variables, momenta, measure):
        super().__init__()
        self.variables, self.momenta, self.measure = variables, momenta, measure
        self.averages, self.rows = None, []

    def on_train_batch_end(self, batch, logs=None):
        weights = [v.numpy() for v in self.variables]
        if self.averages is None:
            self.averages = {m: [w.copy() for w in weights] for m in self.momenta}
            return
        for m, average in self.averages.items():
            for a, w in zip(average, weights):
                a *= m
                a += (1.0 - m) * w

    def on_epoch_end(self, epoch, logs=None):
        trained = [v.numpy() for v in self.variables]
        row = {"weights": self.measure()}
        for m, average in self.averages.items():
            for v, a in zip(self.variables, average):
                v.assign(a)
            row[m] = self.measure()
        for v, w in zip(self.variables, trained):
            v.assign(w)
        self.rows.append(row)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k}: {v:.5f}" for k, v in row.items()), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a registered model with a published checkpoint and a recipe")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr-scale", type=float, default=0.1)
    parser.add_argument("--momenta", type=float, nargs="+", default=[0.99, 0.999, 0.9997])
    parser.add_argument("--data-dir")
    parser.add_argument("--steps-per-epoch", type=int, help="default: the whole training split")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    spec = registry.spec(args.name)
    recipe = spec.recipe
    keras.utils.set_random_seed(args.seed)
    model = spec.builder()
    model.load_weights(hub.fetch(spec.name).files[checkpoint.WEIGHTS])
    train = recipe.pipeline(recipe.train_split, recipe.batch_size, training=True, data_dir=args.data_dir)
    steps = args.steps_per_epoch or int(train.cardinality())
    optimizer = training.scale_learning_rate(recipe.optimizer(args.epochs * steps), args.lr_scale)
    fitted, loss = recipe.fit_target(model)
    fitted.compile(optimizer=optimizer, loss=loss, metrics=list(recipe.metrics))
    metric = recipe.metric

    def measure():
        return training.evaluate(model, spec, args.data_dir, split=recipe.validation_split)[metric]

    start = measure()
    averages = MovingAverages(fitted.trainable_variables, args.momenta, measure)
    fitted.fit(train.repeat(), epochs=args.epochs, steps_per_epoch=steps, callbacks=[averages], verbose=2)

    header = ["epoch", f"weights, validation {metric}", *(f"average {m}, validation {metric}" for m in args.momenta)]
    rows = [["0 (published)", f"{start:.5f}", *("" for _ in args.momenta)]]
    for epoch, row in enumerate(averages.rows, 1):
        rows.append([str(epoch), *(f"{row[k]:.5f}" for k in ("weights", *args.momenta))])
    best = max if recipe.higher_is_better else min
    rows.append(["best", *(f"{best(r[k] for r in averages.rows):.5f}" for k in ("weights", *args.momenta))])
    write_results(f"weight_average_{args.name}",
                  f"{args.name} continued {args.epochs} epochs at {args.lr_scale} of its recipe's rate: validation "
                  f"{metric} of the weights and of moving averages of them, one trajectory",
                  markdown_table(header, rows))


if __name__ == "__main__":
    main()
