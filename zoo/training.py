"""The training harness every model's recipe plugs into.

`train` builds the model under a `tf.distribute` strategy, fits it with a
progress bar, TensorBoard logs and resumable backups (kill it and run the same
command again: it continues from the last backup), evaluates it on the full
evaluation split and, when the result beats the published one, writes the
checkpoint into `hub/` and its entry into `weights_manifest.json`.

Example:
    >>> from zoo import registry, training
    >>> model, metrics = training.train(registry.spec("cnn-small-mnist"), epochs=1)
    $ zoo train cnn-small-mnist --epochs 1          # the same from the shell
"""

import dataclasses
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import keras
import tensorflow as tf

from zoo import checkpoint, data, hub, manifest, paths

STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one model is trained and evaluated.

    `metric` names the entry of `model.evaluate(..., return_dict=True)` that is
    published and decides whether a new checkpoint replaces the old one.
    `optimizer(total_steps)` makes the optimizer for a run of that many steps,
    so a learning-rate schedule spans the run whatever `--epochs` says.
    """

    dataset: str
    epochs: int
    batch_size: int
    loss: Any
    metric: str
    optimizer: Callable[[int], keras.optimizers.Optimizer] = lambda total_steps: keras.optimizers.Adam(1e-3)
    metrics: tuple = ("accuracy",)
    higher_is_better: bool = True
    train_split: str = "train"
    eval_split: str = "test"
    augment: Callable | None = None  # (image, label) -> (image, label), training set only
    seed: int = 0

    def load(self, split, data_dir=None):
        """The unbatched examples of `split`; override for data that is not in tfds."""
        return data.load(self.dataset, split, data_dir=data_dir)

    def describe(self, split, data_dir=None):
        """What a metric was measured on: data set name, split, version and example count."""
        info = data.info(self.dataset, data_dir=data_dir)
        return {
            "name": self.dataset,
            "split": split,
            "version": str(info.version),
            "examples": info.splits[split].num_examples,
        }

    def pipeline(self, split, batch_size, training, data_dir=None):
        ds = self.load(split, data_dir)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
        if training:
            ds = ds.shuffle(10_000, seed=self.seed, reshuffle_each_iteration=True)
            if self.augment is not None:
                ds = ds.map(self.augment, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy with the `reduce` that Keras 3.15's `fit` expects.

    Keras reduces its first (x, y) batch in one call (the stock strategy takes
    single values only) and reduces scalar logs with `axis=0` (which the stock
    strategy rejects for rank-0 values). This reduces leaf by leaf and reads
    `axis=0` on a scalar as "across replicas only".
    """

    def reduce(self, reduce_op, value, axis):
        parent = super()

        def leaf(v):
            rank = self.experimental_local_results(v)[0].shape.rank
            return parent.reduce(reduce_op, v, None if rank == 0 else axis)

        return tf.nest.map_structure(leaf, value)


def make_strategy(name):
    """A `tf.distribute` strategy by name: default, mirrored, or multi-worker (reads TF_CONFIG)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return _MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def train(
    spec,
    *,
    epochs=None,
    batch_size=None,
    steps_per_epoch=None,
    strategy="default",
    workdir=None,
    data_dir=None,
    publish=True,
    command=None,
    save_freq="epoch",
    callbacks=(),
    from_pretrained=False,
):
    """Train `spec` (a `registry.ModelSpec`) by its recipe; returns `(model, eval metrics or None)`.

    Arguments left as None take the recipe's values. Backups, TensorBoard logs
    and the last weights go to `workdir` (default `runs/<name>`); a second call
    with the same workdir resumes. With `publish`, the chief worker evaluates on
    the full evaluation split and publishes the checkpoint if it is better.
    `save_freq` is how often to back up ("epoch" or a number of steps);
    `callbacks` are added to Keras's. `from_pretrained` starts from the
    published checkpoint (to keep improving it) instead of a fresh model.
    """
    recipe = spec.recipe
    if recipe is None:
        raise ValueError(f"'{spec.name}' has no training recipe")
    keras.utils.set_random_seed(recipe.seed)
    strategy = make_strategy(strategy)
    is_chief = _is_chief()
    workdir = Path(workdir or paths.REPO_ROOT / "runs" / spec.name)
    if not is_chief:  # workers back up privately; only the chief's files are kept
        workdir = workdir / f"worker-{_task_index()}"
    workdir.mkdir(parents=True, exist_ok=True)

    global_batch = (batch_size or recipe.batch_size) * strategy.num_replicas_in_sync
    train_ds = recipe.pipeline(recipe.train_split, global_batch, training=True, data_dir=data_dir)
    epochs = epochs or recipe.epochs
    steps_per_epoch = steps_per_epoch or int(train_ds.cardinality())
    with strategy.scope():
        model = spec.builder()
        if from_pretrained:
            model.load_weights(hub.fetch(spec.name).files[checkpoint.WEIGHTS])
            started_from = manifest.entry(spec.name)
        model.compile(optimizer=recipe.optimizer(epochs * steps_per_epoch), loss=recipe.loss, metrics=list(recipe.metrics))
    callbacks = [
        keras.callbacks.BackupAndRestore(str(workdir / "backup"), save_freq=save_freq),
        keras.callbacks.TensorBoard(str(workdir / "logs")),
        *callbacks,
    ]
    model.fit(
        train_ds.repeat(),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles, with the recipe's seed
        verbose=1 if sys.stdout.isatty() else 2,
    )
    if not is_chief:
        return model, None
    model.save_weights(workdir / "last.weights.h5")
    if not publish:
        return model, None
    metrics = evaluate(model, spec, data_dir=data_dir)
    command = command or f"zoo train {spec.name}"
    if from_pretrained:  # the checkpoint it started from is part of how to reproduce it
        command = f"{started_from['commands']['train']} && {command}"
    publish_if_better(model, spec, metrics, command, data_dir=data_dir)
    return model, metrics


def evaluate(model, spec, data_dir=None, batch_size=None):
    """The recipe's metrics of `model` on the full evaluation split."""
    recipe = spec.recipe
    if not model.compiled:
        model.compile(loss=recipe.loss, metrics=list(recipe.metrics))
    ds = recipe.pipeline(recipe.eval_split, batch_size or recipe.batch_size, training=False, data_dir=data_dir)
    results = model.evaluate(ds, return_dict=True, verbose=1 if sys.stdout.isatty() else 0)
    return {k: round(float(v), 6) for k, v in results.items()}


def publish_if_better(model, spec, metrics, command, data_dir=None):
    """Write the checkpoint into `hub/` and the manifest, unless the published one is as good or better.

    Returns True when it published.
    """
    recipe = spec.recipe
    old = manifest.entry(spec.name)
    new_value = metrics[recipe.metric]
    if old is not None:
        old_value = old["metrics"][recipe.metric]
        better = new_value > old_value if recipe.higher_is_better else new_value < old_value
        if not better:
            print(f"Not published: {recipe.metric} {new_value} does not beat the published {old_value}.")
            return False
    repo_id = f"{paths.HUB_ORG}/{spec.name}"
    dataset = recipe.describe(recipe.eval_split, data_dir)
    commands = {"train": command, "eval": f"zoo eval {spec.name}"}
    today = datetime.date.today().isoformat()
    card = _model_card(spec, repo_id, dataset, metrics, commands)
    folder = checkpoint.save(model, paths.LOCAL_HUB / repo_id, card)
    files = manifest.describe_files(folder)
    history = (old or {}).get("history", []) + [{"date": today, "metrics": metrics, "files": files, "command": command}]
    manifest.write_entry(
        spec.name,
        {
            "repo_id": repo_id,
            "revision": None,  # set by scripts/publish.py once the Hub has the files
            "files": files,
            "dataset": dataset,
            "metrics": metrics,
            "commands": commands,
            "history": history,
        },
    )
    print(f"Published {spec.name}: {recipe.metric} {new_value} -> {folder}")
    return True


def _model_card(spec, repo_id, dataset, metrics, commands):
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    return f"""---
library_name: keras
tags: [zoo, {spec.name.split('-')[0]}]
---
# {spec.name}

{spec.description}

Measured on `{dataset['name']}` {dataset['version']}, split `{dataset['split']}` ({dataset['examples']} examples):

| metric | value |
|---|---|
{rows}

```python
import zoo
model = zoo.load("{spec.name}")
```

Trained with `{commands['train']}`; evaluated with `{commands['eval']}`.
Files: `config.json` (Keras config), `model.weights.h5` (weights).
"""


def _tf_config():
    return json.loads(os.environ.get("TF_CONFIG") or "{}")


def _task_index():
    return _tf_config().get("task", {}).get("index", 0)


def _is_chief():
    """The chief writes the results: the `chief` task, or worker 0 in a cluster without one."""
    config = _tf_config()
    task = config.get("task")
    if not task:
        return True
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task.get("index", 0) == 0 and "chief" not in config.get("cluster", {})
