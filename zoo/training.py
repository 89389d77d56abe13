"""The training harness every model's recipe plugs into.

`train` builds the model under a `tf.distribute` strategy and fits it on the
recipe's training split with a progress bar, TensorBoard logs and resumable
backups (kill it and run the same command again: it continues from the last
backup). A validation split carved from the training data (the recipe's
`validation_split`, fixed) is measured after every epoch and is the only thing
that decides: the epoch with the best validation metric is the run's result,
and it replaces the published checkpoint only if its validation metric is
better. The test split is measured once, on that result, and reported. The
manifest entry records both, the git commit of the code and the exact command.

Example:
    >>> from zoo import registry, training
    >>> model, metrics = training.train(registry.spec("cnn-small-mnist"), epochs=1)
    $ zoo train cnn-small-mnist --epochs 1          # the same from the shell
"""

import contextlib
import dataclasses
import datetime
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import keras
import tensorflow as tf

from zoo import checkpoint, data, hub, manifest, paths

STRATEGIES = ("default", "mirrored", "multi-worker")
WEIGHTS_LICENSE = "Apache-2.0"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one model is trained and evaluated.

    `metric` names the entry of `model.evaluate(..., return_dict=True)` that is
    published; measured on `validation_split` (carved from the training data,
    disjoint from `train_split`), it picks the best epoch of a run and decides
    whether a new checkpoint replaces the old one. `eval_split` (the test
    split) is measured once per published checkpoint and never decides.
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
    train_split: str = "train[:90%]"
    validation_split: str = "train[90%:]"
    eval_split: str = "test"
    augment: Callable | None = None  # (image, label) -> (image, label), training set only
    seed: int = 0
    # model -> dict describing where its starting weights came from (a fresh model only), or None
    initialize: Callable | None = None
    # finish(model, recipe, data_dir) -> dict: a last step on the best epoch's weights before they are measured to
    # be published (idf-photos fits its last prior to whole photographs); what it returns is recorded in the run.
    finish: Callable | None = None
    # (model, recipe, split, data_dir, skip=()) -> metrics, when model.evaluate does not measure what is published.
    # Every epoch it is also called with `skip`, the metrics Keras's validation pass has just measured, which
    # it may leave out where its own value would be the same (photo_bits: the float32 bits)
    evaluator: Callable | None = None
    # model -> (model to fit, loss), when the loss needs an output the published model does not give (the logits
    # under normalized probabilities); the fitted model shares every weight with it. None: fit it with `loss`.
    training_head: Callable | None = None
    # validate, keep and publish an exponential moving average of the weights, updated every step with this
    # momentum (e.g. 0.999), instead of the weights themselves: it averages out the noise of small batches
    weight_average: float | None = None
    paper: str = ""  # the citation model cards give

    def with_crop(self, crop):
        """This recipe training on random `crop` x `crop` crops; only a recipe that trains on crops has one."""
        raise ValueError("trains on whole examples, not on crops")

    def fit_target(self, model):
        """(the model to fit, its loss): `training_head(model)` where the recipe has one, else (model, loss)."""
        return self.training_head(model) if self.training_head else (model, self.loss)

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
            "examples": info.splits[split].num_examples,  # tfds resolves slices such as "train[90%:]"
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


RUN_RECORD = "run.json"  # in a workdir: the finished run's "training" record, as the manifest takes it
# in a workdir and beside a published checkpoint: every epoch's logs and seconds, for each run of the chain that
# made it (a --from-pretrained run continues its checkpoint's log), so curves outlive the workdirs
TRAINING_LOG = "training_log.json"
FINISHED_WEIGHTS = "finished.weights.h5"  # in a workdir: the best weights after the recipe's finish step


@keras.saving.register_keras_serializable(package="zoo")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule times a constant `factor` (its shape, warm-up and decay, kept).

    Example:
        >>> ScaledSchedule(keras.optimizers.schedules.CosineDecay(3e-2, 1000), 0.1)(0)  # 3e-3
    """

    def __init__(self, schedule, factor):
        self.schedule, self.factor = schedule, float(factor)

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "factor": self.factor}

    @classmethod
    def from_config(cls, config):
        return cls(keras.optimizers.schedules.deserialize(config["schedule"]), config["factor"])


def scale_learning_rate(optimizer, factor):
    """Multiply `optimizer`'s learning rate (a constant or a schedule) by `factor`, in place."""
    if not factor > 0:
        raise ValueError(f"the learning-rate scale must be positive, got {factor}")
    if factor == 1:
        return optimizer
    rate = optimizer.get_config()["learning_rate"]  # the schedule as given (serialized), or a number
    if isinstance(rate, dict):
        optimizer.learning_rate = ScaledSchedule(keras.optimizers.schedules.deserialize(rate), factor)
    else:
        optimizer.learning_rate = float(rate) * factor
    return optimizer


def averaging(optimizer, momentum):
    """`optimizer` rebuilt to keep an exponential moving average of the weights it trains (Keras's `use_ema`),
    updated every step with `momentum`, which `AveragedWeights` swaps in.

    Example:
        >>> averaging(keras.optimizers.Adam(1e-3), 0.999).ema_momentum
        0.999
    """
    config = {**optimizer.get_config(), "use_ema": True, "ema_momentum": momentum, "ema_overwrite_frequency": None}
    return type(optimizer).from_config(config)


class AveragedWeights(keras.callbacks.Callback):
    """Puts the optimizer's moving average of the weights (see `averaging`) in the model from the start of each
    validation to the start of the next epoch, so the validation metric, the best epoch's weights and the
    backups are the average's; training goes on from the weights themselves. A resumed run continues from
    the backed-up average. At the end of `fit` Keras leaves the average in the model.

    Example:
        >>> model.compile(optimizer=averaging(keras.optimizers.Adam(1e-3), 0.999), loss="mse")
        >>> model.fit(x, y, validation_data=(vx, vy), callbacks=[AveragedWeights()])
    """

    trained = None  # the weights themselves while the average is in the model

    def on_test_begin(self, logs=None):
        if self.trained is None:
            variables = self.model.trainable_variables
            self.trained = [v.numpy() for v in variables]
            self.model.optimizer.finalize_variable_values(variables)

    def on_epoch_begin(self, epoch, logs=None):
        if self.trained is not None:
            for variable, value in zip(self.model.trainable_variables, self.trained):
                variable.assign(value)
            self.trained = None


class MixedPrecisionTraining(keras.callbacks.Callback):
    """Trains `model` in its mixed precision and validates it in float32: `model.set_mixed_precision(True)`
    before the training batches, `False` for validation and after training.

    Keras traces its training step at the first batch and its validation step at the first validation, so each
    keeps the precision it was traced in; switching costs nothing after that.

    Example:
        >>> model.fit(data, validation_data=val, callbacks=[MixedPrecisionTraining(model)])
    """

    def __init__(self, model):
        super().__init__()
        self.target, self.enabled = model, False

    def _set(self, enabled):
        if enabled != self.enabled:
            self.target.set_mixed_precision(enabled)
            self.enabled = enabled

    def on_train_batch_begin(self, batch, logs=None):
        self._set(True)

    def on_test_begin(self, logs=None):
        self._set(False)

    def on_train_end(self, logs=None):
        self._set(False)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` after the first batch whose loss is NaN or infinite and remembers where (`stopped_at`, the
    epoch and batch, from 1), so the harness fails then instead of training on, validating and publishing
    NaN weights. Keras's `TerminateOnNaN` stops too but says where only on the console.

    Example:
        >>> guard = StopOnNonFinite()
        >>> model.fit(x, y, epochs=3, callbacks=[guard])
        >>> guard.stopped_at                  # None, or (epoch, batch) such as (4, 17)
    """

    stopped_at = None
    epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_at = (self.epoch + 1, batch + 1)
            self.model.stop_training = True


def load_published(model, name):
    """Load the published checkpoint of `name` into `model`; returns the names of the layers it had no
    weights for (none, unless the model's config adds layers to the published one's).

    A config may grow the published model (a layer added, which starts as the identity): then every
    layer the checkpoint has takes its weights and the added ones keep their initial values. Nothing of
    the checkpoint may be lost: every one of its weight arrays must be found, equal, in the model, else
    this raises a `ZooError` (the new config changed a shape the checkpoint has).
    """
    import warnings

    import numpy as np

    from zoo.errors import ZooError

    files = hub.fetch(name).files
    weights = files[checkpoint.WEIGHTS]
    try:
        model.load_weights(weights)
        return []
    except ValueError:
        pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(weights, skip_mismatch=True)
    published = checkpoint.load(files[checkpoint.CONFIG], weights)
    key = lambda w: (tuple(w.shape), np.array(w).tobytes())  # noqa: E731
    ours, theirs = {key(w) for w in model.weights}, {key(w) for w in published.weights}
    lost = [w.path for w in published.weights if key(w) not in ours]
    if lost:
        raise ZooError(f"the published weights of '{name}' do not fit this config of the model: "
                       f"{len(lost)} weights have no place in it (first: {lost[0]}); train it without --from-pretrained")
    new = sorted({w.path.rsplit("/", 2)[0] for w in model.weights if key(w) not in theirs})
    print(f"started from the published '{name}'; layers it did not have keep their initial weights: "
          f"{', '.join(new) or 'none'} ({len(caught)} skipped)", flush=True)
    return new


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
    seed=None,
    lr_scale=1.0,
    from_weights=None,
    from_scratch=False,
    weight_average=None,
    mixed_precision=False,
    clip_norm=None,
    finish=True,
    crop=None,
):
    """Train `spec` (a `registry.ModelSpec`) by its recipe; returns `(model, metrics or None)`.

    Arguments left as None take the recipe's values. Backups, TensorBoard logs,
    the best epoch's weights (by the validation metric), the last weights and
    the run's record for the manifest (`run.json`) go to `workdir` (default
    `runs/<name>` under the current directory); a second call with the same
    workdir resumes. The returned model holds the best
    epoch's weights. With `publish`, the chief worker measures it on the full
    validation split and, only if that beats the published checkpoint, once on
    the test split, and publishes it; `metrics` is then
    `{"validation": ..., "test": ... or None when not published}`.
    `save_freq` is how often to back up ("epoch" or a number of steps);
    `callbacks` are added to Keras's. `from_pretrained` starts from the
    published checkpoint (to keep improving it) instead of a fresh model.
    `seed` replaces the recipe's (initialization, shuffling, augmentation).
    `lr_scale` multiplies the recipe's learning rate, schedule and all: a
    continuation of a converged checkpoint usually wants a fraction of it.
    `from_weights` starts from a weights file of this model instead, such as an
    earlier run's `best.weights.h5`; where that run's folder holds its training
    log, the published command and log chain that run before this one.
    `from_scratch` starts from random weights, skipping the recipe's initializer
    (which starts some models from another's weights): for a variant whose layers
    the initializer would not fit. With `publish`, the recipe's `finish` step, where
    it has one, runs on the best weights before they are measured, and is kept only if it improves the
    validation metric; `finish=False` skips it (the run records `"finish_skipped"`). `epochs=0` trains nothing:
    it finishes and measures (and may publish) the published checkpoint or a
    weights file as they are. `weight_average` (a momentum such as 0.999, default
    the recipe's) trains as usual but validates, keeps and publishes the
    exponential moving average of the weights (`AveragedWeights`). `mixed_precision` runs the training
    steps in the model's mixed precision (`MixedPrecisionTraining`; a model that has one); the model is
    validated, finished and measured in float32 (a recipe's evaluator and finish step may measure or fit
    other arithmetic: the photo IDF recipes' are the bfloat16 codec's). `clip_norm` scales each step's gradients down to
    that global norm where they exceed it (Keras's `global_clipnorm`), against the rare step that throws a
    converged model off. `crop` trains a recipe that trains on random crops on crops of that side instead,
    the pixels of an epoch kept (`Recipe.with_crop`); the run records it.
    """
    recipe = spec.recipe
    if recipe is None:
        raise ValueError(f"'{spec.name}' has no training recipe")
    if sum(map(bool, (from_pretrained, from_weights, from_scratch))) > 1:
        raise ValueError("start from the published checkpoint, a weights file or random weights, not two of them")
    if not finish and recipe.finish is None:
        raise ValueError(f"'{spec.name}' has no finish step to skip")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive, not {clip_norm}")
    if epochs is not None and epochs < 0:
        raise ValueError(f"epochs must be 0 or more, not {epochs}")
    if epochs == 0 and not (from_pretrained or from_weights):
        raise ValueError("0 epochs measure existing weights: start from the published checkpoint or a weights file")
    earlier_runs = _runs_before(from_weights) if from_weights else []
    if weight_average is not None:
        recipe = dataclasses.replace(recipe, weight_average=weight_average)
    if recipe.weight_average is not None and not 0 < recipe.weight_average < 1:
        raise ValueError(f"weight_average is a momentum between 0 and 1, not {recipe.weight_average}")
    if seed is not None:
        recipe = dataclasses.replace(recipe, seed=seed)
    if crop is not None:
        try:
            recipe = recipe.with_crop(crop)
        except ValueError as e:
            raise ValueError(f"'{spec.name}' {e}") from None
    keras.utils.set_random_seed(recipe.seed)
    strategy = make_strategy(strategy)
    is_chief = _is_chief()
    code = code_version()
    if code["dirty"]:
        print(f"Warning: the working tree has uncommitted changes; the manifest will record commit "
              f"{code['commit']} with dirty: true, and the checkpoint cannot be rebuilt from it.", file=sys.stderr)
    if publish and is_chief:  # which clone's code runs and publishes, from whatever directory it is started
        manifest_path, hub_dir = paths.publish_home()
        print(f"Code: {paths.REPO_ROOT} at commit {code['commit']}; a checkpoint that beats the published one is "
              f"written to {hub_dir} and {manifest_path}.", flush=True)
    workdir = Path(workdir or Path("runs") / spec.name)
    if not is_chief:  # workers back up privately; only the chief's files are kept
        workdir = workdir / f"worker-{_task_index()}"
    workdir.mkdir(parents=True, exist_ok=True)

    global_batch = (batch_size or recipe.batch_size) * strategy.num_replicas_in_sync
    train_ds = recipe.pipeline(recipe.train_split, global_batch, training=True, data_dir=data_dir)
    val_ds = recipe.pipeline(recipe.validation_split, global_batch, training=False, data_dir=data_dir)
    epochs = recipe.epochs if epochs is None else epochs
    steps_per_epoch = steps_per_epoch or int(train_ds.cardinality())
    with strategy.scope():
        model = spec.builder()
        initialized_from = None
        if from_pretrained:
            load_published(model, spec.name)
            started_from = manifest.entry(spec.name)
        elif from_weights:
            model.load_weights(from_weights)
            initialized_from = {"weights": str(from_weights), "weights_sha256": manifest.sha256(Path(from_weights))}
        elif recipe.initialize is not None and not from_scratch:
            initialized_from = recipe.initialize(model)
        if mixed_precision and not hasattr(model, "set_mixed_precision"):
            raise ValueError(f"'{spec.name}' has no mixed precision to train in (its model has no set_mixed_precision)")
        if epochs:
            optimizer = scale_learning_rate(recipe.optimizer(epochs * steps_per_epoch), lr_scale)
            if clip_norm:
                optimizer = type(optimizer).from_config({**optimizer.get_config(), "global_clipnorm": clip_norm})
            if recipe.weight_average:
                optimizer = averaging(optimizer, recipe.weight_average)
            fitted, loss = recipe.fit_target(model)
            fitted.compile(optimizer=optimizer, loss=loss, metrics=list(recipe.metrics))
    best = BestEpoch(workdir, "val_" + recipe.metric, recipe.higher_is_better, resume=bool(epochs))
    guard = StopOnNonFinite()
    callbacks = [
        guard,
        keras.callbacks.BackupAndRestore(str(workdir / "backup"), save_freq=save_freq),
        *([_Evaluator(model, spec, recipe.validation_split, data_dir)] if recipe.evaluator else []),
        keras.callbacks.TensorBoard(str(workdir / "logs")),
        best,
        *([AveragedWeights()] if epochs and recipe.weight_average else []),
        *([MixedPrecisionTraining(model)] if epochs and mixed_precision else []),
        *callbacks,
    ]
    if epochs:
        fitted.fit(
            train_ds.repeat(),
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=val_ds,
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles, with the recipe's seed
            verbose=1 if sys.stdout.isatty() else 2,
        )
    if guard.stopped_at and not (is_chief and best.best_epoch):
        _diverged(guard.stopped_at, best, lr_scale)
    if not is_chief:
        return model, None
    if not guard.stopped_at:
        if epochs:
            model.save_weights(workdir / "last.weights.h5")
            best.restore(model)
        if not publish:
            return model, None
    command = command or f"zoo train {spec.name}"
    log = {"runs": [*(_published_log(spec.name) if from_pretrained else earlier_runs),
                    {"command": command, "monitor": best.monitor, "epochs": best.state["epochs"]}]}
    if from_pretrained:  # the checkpoint it started from is part of how to reproduce it
        command = f"{started_from['commands']['train']} && {command}"
    elif earlier_runs:
        command = " && ".join([*(r["command"] for r in earlier_runs), command])
    trained = guard.stopped_at[0] if guard.stopped_at else epochs  # a stopped run trained into its last epoch
    run = {
        "epochs": trained,
        **({"diverged_at": list(guard.stopped_at)} if guard.stopped_at else {}),
        "best_epoch": best.best_epoch,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": global_batch,
        "wall_clock_s": round(best.wall_clock_s, 1),
        "cpu_count": len(os.sched_getaffinity(0)),  # cores this run could use (taskset narrows it)
        "seed": recipe.seed,
        **({"lr_scale": lr_scale} if lr_scale != 1 else {}),
        **({"weight_average": recipe.weight_average} if epochs and recipe.weight_average else {}),
        **({"mixed_precision": True} if epochs and mixed_precision else {}),
        **({"clip_norm": clip_norm} if epochs and clip_norm else {}),
        **({"crop": crop} if epochs and crop else {}),
        **({"builder_overrides": spec.builder_overrides} if spec.builder_overrides else {}),
        **({"initialized_from": initialized_from} if initialized_from else {}),
    }
    before = None  # the run that made the starting weights, for the budget of the whole chain
    if from_pretrained:
        before = started_from.get("training", {})
    elif from_weights:
        before = _record_before(from_weights)
    if before is not None:
        run["total_epochs"] = before.get("total_epochs", before.get("epochs", 0)) + trained
        run["total_wall_clock_s"] = round(before.get("total_wall_clock_s", before.get("wall_clock_s", 0)) + best.wall_clock_s, 1)
    if guard.stopped_at:  # what it trained is kept, so --from-weights on its best epoch chains this run
        _write_run_files(workdir, run, log)
        _diverged(guard.stopped_at, best, lr_scale)
    validation = evaluate(model, spec, data_dir=data_dir, split=recipe.validation_split)
    if recipe.finish is not None and finish:
        run["finished"], validation = _finish_if_better(model, spec, validation, data_dir)
        model.save_weights(workdir / FINISHED_WEIGHTS)
    elif recipe.finish is not None:
        run["finish_skipped"] = True
    _write_run_files(workdir, run, log)
    metrics = {"validation": validation, "test": None}
    with publishing():
        if beats_published(spec, metrics["validation"], data_dir=data_dir):
            metrics["test"] = evaluate(model, spec, data_dir=data_dir)  # once, for the checkpoint it publishes
            publish_checkpoint(model, spec, metrics["test"], command, validation=metrics["validation"],
                               data_dir=data_dir, code=code, run=run, training_log=log)
    return model, metrics


def _finish_if_better(model, spec, validation, data_dir=None):
    """Run the recipe's finish step on `model` and keep it only if it improves the validation metric
    (`validation`, the metrics before it); otherwise put the weights back. Returns (the step's record with
    both validation values and whether it was kept, the validation metrics of the weights kept)."""
    recipe = spec.recipe
    weights = model.get_weights()
    record = recipe.finish(model, recipe, data_dir) or {}
    finished = evaluate(model, spec, data_dir=data_dir, split=recipe.validation_split)
    before, after = validation[recipe.metric], finished[recipe.metric]
    kept = after > before if recipe.higher_is_better else after < before
    if not kept:
        model.set_weights(weights)
    record = {**record, "validation_before": before, "validation_after": after, "kept": kept}
    return record, finished if kept else validation


def _write_run_files(workdir, run, log):
    """The run's record and training log in its workdir: for publishing it later (scripts/seeds.py) and for
    chaining a run that continues its weights (`--from-weights`)."""
    (workdir / RUN_RECORD).write_text(json.dumps(run, indent=1))
    (workdir / TRAINING_LOG).write_text(json.dumps(log, indent=1))


def _diverged(where, best, lr_scale):
    """Raise `TrainingDivergedError` for a run whose loss became non-finite at (epoch, batch) `where`."""
    from zoo.errors import TrainingDivergedError

    epoch, batch = where
    kept = (f"Its best epoch before, {best.best_epoch} ({best.monitor} {best.state['best']:.6g}), is in "
            f"{best.weights_path}: continue from it with --from-weights." if best.best_epoch
            else "No epoch had finished before it.")
    raise TrainingDivergedError(
        f"training diverged: the loss became NaN or infinite at epoch {epoch}, batch {batch}; nothing was finished "
        f"or published. {kept} Try another --seed or a lower --lr-scale (now {lr_scale:g}).")


def _runs_before(weights):
    """The runs that made a weights file, from the training log beside it ([] where there is none)."""
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"no weights file at {weights}")
    log = weights.parent / TRAINING_LOG
    return json.loads(log.read_text())["runs"] if log.is_file() else []


def _record_before(weights):
    """The run record (`RUN_RECORD`) beside a weights file: the run that made it, or None where there is none."""
    record = Path(weights).parent / RUN_RECORD
    return json.loads(record.read_text()) if record.is_file() else None


def _published_log(name):
    """The runs of `name`'s published training log; one run without epochs where its checkpoint has none."""
    try:
        return load_training_log(name)["runs"]
    except FileNotFoundError:
        return [{"command": manifest.entry(name)["commands"]["train"], "monitor": None, "epochs": None}]


def load_training_log(name):
    """The published training log of `name`: `{"runs": [{"command", "monitor", "epochs"}]}`, each epoch
    `{"epoch", "seconds", <logged metrics>}`; `epochs` is None for a run whose log was not kept."""
    files = hub.fetch(name).files
    if TRAINING_LOG not in files:
        raise FileNotFoundError(f"'{name}' was published without a {TRAINING_LOG} (before logs were kept); "
                                f"retrain it to have one")
    return json.loads(Path(files[TRAINING_LOG]).read_text())


class _Evaluator(keras.callbacks.Callback):
    """Adds the recipe's own evaluation of the validation split to every epoch's logs, as `val_<metric>`."""

    def __init__(self, published, spec, split, data_dir):
        super().__init__()
        self.published, self.spec, self.split, self.data_dir = published, spec, split, data_dir

    def on_epoch_end(self, epoch, logs=None):
        # the model as it is published (the fitted one may be a head that shares its weights)
        keras_measured = tuple(k.removeprefix("val_") for k in logs if k.startswith("val_"))
        measured = self.spec.recipe.evaluator(self.published, self.spec.recipe, self.split, self.data_dir,
                                              skip=keras_measured)
        logs.update({f"val_{k}": v for k, v in measured.items()})
        print(" - ".join(f"val_{k}: {v:.4f}" for k, v in measured.items()))


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best `monitor` (a validation metric; an epoch whose loss
    or metric is NaN or infinite never counts) in `workdir`.

    Its state (`best.json`: every epoch's logs and seconds, the best epoch and
    value) survives an interruption, so a resumed run keeps comparing against
    the best epoch before it (unless `resume` is False: a run that trains
    nothing keeps no earlier run's best epoch; a run resumed under another `monitor`, after its recipe's
    metric changed, keeps its epochs' logs but chooses among the epochs after). `restore(model)` loads the
    best weights.
    """

    def __init__(self, workdir, monitor, higher_is_better, resume=True):
        super().__init__()
        self.state_path = Path(workdir) / "best.json"
        self.weights_path = Path(workdir) / "best.weights.h5"
        self.monitor = monitor
        self.higher_is_better = higher_is_better
        self.state = {"monitor": monitor, "best_epoch": None, "best": None, "epochs": []}
        if resume and self.state_path.exists():
            saved = json.loads(self.state_path.read_text())
            if saved["monitor"] == monitor:
                self.state = saved
            else:  # the recipe's metric changed since: the epochs so far cannot be compared on it
                print(f"Resuming a run whose best epoch was chosen on {saved['monitor']!r}, not {monitor!r}: its "
                      f"epochs so far are kept in the record but are no longer candidates.", flush=True)
                self.state["epochs"] = saved["epochs"]

    @property
    def best_epoch(self):
        return self.state["best_epoch"]

    @property
    def wall_clock_s(self):
        return sum(e["seconds"] for e in self.state["epochs"])

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"{self.monitor!r} is not in the epoch's logs ({', '.join(logs)}); "
                           "the recipe's metric must be one of the model's compiled metrics")
        value = float(logs[self.monitor])
        seconds = time.perf_counter() - self._started
        self.state["epochs"] = [e for e in self.state["epochs"] if e["epoch"] < epoch + 1]
        self.state["epochs"].append({"epoch": epoch + 1, "seconds": round(seconds, 2),
                                     **{k: float(v) for k, v in logs.items()}})
        best = self.state["best"]
        finite = math.isfinite(value) and math.isfinite(float(logs.get("loss", 0.0)))  # NaN weights may still score
        if finite and (best is None or (value > best if self.higher_is_better else value < best)):
            self.model.save_weights(self.weights_path)
            self.state.update(best_epoch=epoch + 1, best=value)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.state_path)

    def restore(self, model):
        if self.weights_path.exists():
            model.load_weights(self.weights_path)


def code_version():
    """`{"commit", "dirty"}` of the git checkout the zoo runs from (commit None outside a checkout).

    Changes under `hub/`, `runs/`, `results/`, `docs/` and to the manifest and
    the README do not count as dirty: runs and benchmarks write them themselves.
    """
    root = paths.REPO_ROOT

    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": False}
    ignored = ("hub/", "runs/", "results/", "docs/", "weights_manifest.json", "README.md")
    dirty = any(not line[3:].startswith(ignored) for line in changed)
    return {"commit": commit, "dirty": dirty}


def evaluate(model, spec, data_dir=None, batch_size=None, split=None):
    """The recipe's metrics of `model` on the full `split` (default: the evaluation, i.e. test, split)."""
    recipe = spec.recipe
    if recipe.evaluator is not None:
        measured = recipe.evaluator(model, recipe, split or recipe.eval_split, data_dir)
        return {k: round(float(v), 6) for k, v in measured.items()}
    if not model.compiled:
        model.compile(loss=recipe.loss, metrics=list(recipe.metrics))
    ds = recipe.pipeline(split or recipe.eval_split, batch_size or recipe.batch_size, training=False, data_dir=data_dir)
    results = model.evaluate(ds, return_dict=True, verbose=1 if sys.stdout.isatty() else 0)
    return {k: round(float(v), 6) for k, v in results.items()}


def beats_published(spec, validation, data_dir=None):
    """Whether validation metrics `validation` beat the published checkpoint's (True when none is published).

    A published checkpoint that was selected on the test split (an entry
    without validation metrics) is measured on the validation split now, so
    the comparison is like for like.
    """
    recipe = spec.recipe
    old = manifest.entry(spec.name)
    if old is None:
        return True
    new_value, old_value = validation[recipe.metric], _published_validation(spec, old, data_dir)[recipe.metric]
    better = new_value > old_value if recipe.higher_is_better else new_value < old_value
    if not better:
        print(f"Not published: validation {recipe.metric} {new_value} does not beat the published {old_value}.")
    return better


def publish_if_better(model, spec, metrics, command, *, validation, data_dir=None, code=None, run=None,
                      training_log=None):
    """`publish_checkpoint` if `beats_published(spec, validation)`; returns True when it published.

    `metrics` are the test split's: reported, never compared.
    """
    with publishing():
        return beats_published(spec, validation, data_dir) and publish_checkpoint(
            model, spec, metrics, command, validation=validation, data_dir=data_dir, code=code, run=run,
            training_log=training_log,
        )


_held = threading.local()


@contextlib.contextmanager
def publishing():
    """Hold the publishing lock (a file lock beside the manifest training writes to) for the block.

    Two runs that finish together, in one process or several, then compare
    with the published checkpoint and publish one after the other: the second
    compares with what the first published, and neither loses the other's
    manifest entry. Re-entrant within a thread. Without `fcntl` (Windows) it
    does not lock: run one training at a time there.

    Example:
        >>> with training.publishing():
        ...     if training.beats_published(spec, validation):
        ...         training.publish_checkpoint(model, spec, test, command, validation=validation)
    """
    try:
        import fcntl
    except ImportError:
        fcntl = None
    depth = getattr(_held, "depth", 0)
    if depth or fcntl is None:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth = depth
        return
    manifest_path, _ = paths.publish_home()
    lock_path = Path(manifest_path).with_name(Path(manifest_path).name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish_checkpoint(model, spec, metrics, command, *, validation, data_dir=None, code=None, run=None,
                       training_log=None):
    """Write the checkpoint into `hub/` and its entry into the manifest; returns True.

    `metrics` are the test split's, `validation` the validation split's,
    `code` is `code_version()` at the start of training (default: now), `run`
    what the run was (epochs, best epoch, wall clock), `training_log` its
    epochs (`TRAINING_LOG`), published beside the weights.
    """
    with publishing():
        return _publish_checkpoint(model, spec, metrics, command, validation=validation, data_dir=data_dir,
                                   code=code, run=run, training_log=training_log)


def _publish_checkpoint(model, spec, metrics, command, *, validation, data_dir, code, run, training_log):
    recipe = spec.recipe
    old = manifest.entry(spec.name)
    repo_id = f"{paths.HUB_ORG}/{spec.name}"
    dataset = recipe.describe(recipe.eval_split, data_dir)
    held_out = {**recipe.describe(recipe.validation_split, data_dir), "metrics": validation}
    commands = {"train": command, "eval": f"zoo eval {spec.name}"}
    today = datetime.date.today().isoformat()
    code = code or code_version()
    entry = {
        "repo_id": repo_id,
        "revision": None,  # set by scripts/publish.py once the Hub has the files
        "files": {},
        "selection": "validation",
        "selected_on": recipe.metric,
        "validation": held_out,
        "dataset": dataset,
        "metrics": metrics,
        "commands": commands,
        "code": code,
        "training": run or {},
    }
    manifest_path, local_hub = paths.publish_home()
    folder = checkpoint.save(model, local_hub / repo_id, model_card(spec, entry))
    log_path = folder / TRAINING_LOG
    if training_log is not None:
        log_path.write_text(json.dumps(training_log, indent=1))
    else:
        log_path.unlink(missing_ok=True)  # an older checkpoint's log does not describe this one
    entry["files"] = files = manifest.describe_files(folder)
    entry["history"] = (old or {}).get("history", []) + [
        {"date": today, "metrics": metrics, "validation_metrics": validation, "files": files, "command": command,
         "code": code}
    ]
    manifest.write_entry(spec.name, entry, path=manifest_path)
    print(f"Published {spec.name}: validation {recipe.metric} {validation[recipe.metric]} (test {metrics[recipe.metric]}) -> {folder}")
    return True


def _published_validation(spec, entry, data_dir):
    """The published checkpoint's validation metrics: recorded, or measured now for a test-selected entry
    or one published before the recipe selected on the metric it names now."""
    recorded = entry.get("validation", {}).get("metrics", {})
    if spec.recipe.metric in recorded:
        return recorded
    from zoo import loading

    if "validation" in entry:
        print(f"The published {spec.name} records no validation {spec.recipe.metric} (it was selected on "
              f"{manifest.selected_on(entry, ', '.join(recorded))}); measuring it on "
              f"{spec.recipe.validation_split} to compare.")
    else:
        print(f"The published {spec.name} was selected on the test split; measuring it on "
              f"{spec.recipe.validation_split} to compare (it may have trained on those examples).")
    return evaluate(loading.load(spec.name), spec, data_dir=data_dir, split=spec.recipe.validation_split)


def model_card(spec, entry):
    """The model card (the checkpoint's README.md) of `spec` from its manifest `entry`: the paper with a
    citation, the licenses of the weights and the data, the data version and splits, the metrics, how
    the checkpoint was chosen, and the commands."""
    recipe, dataset = spec.recipe, entry["dataset"]
    held_out = entry.get("validation")
    if held_out:
        rows = "\n".join(f"| {k} | {v} | {held_out['metrics'].get(k, '')} |" for k, v in entry["metrics"].items())
        table = f"| metric | test | validation |\n|---|---|---|\n{rows}"
        part = f"{held_out['part']}, " if "part" in held_out else ""
        chosen = (f"once, after the checkpoint was chosen on the validation split `{held_out['split']}` "
                  f"({part}{held_out['examples']} examples, carved from the training data and never trained on)")
    else:
        rows = "\n".join(f"| {k} | {v} |" for k, v in entry["metrics"].items())
        table = f"| metric | test |\n|---|---|\n{rows}"
        chosen = ("by a checkpoint made before the zoo chose on validation data: its training length was chosen "
                  "after looking at test results, so the figure is optimistic")
    paper = recipe.paper or "No paper: the zoo's end-to-end example model."
    code = entry.get("code", {})
    return f"""---
library_name: keras
license: {WEIGHTS_LICENSE.lower()}
tags: [zoo, {spec.name.split('-')[0]}]
---
# {spec.name}

{spec.description}

Paper: {paper}

Measured on `{dataset['name']}` {dataset['version']}, split `{dataset['split']}` ({dataset['examples']} examples),
{chosen}:

{table}

```python
import zoo
model = zoo.load("{spec.name}")
```

Trained with `{entry['commands']['train']}` at code commit `{code.get('commit')}`; evaluated with
`{entry['commands']['eval']}`. Files: `config.json` (Keras config), `model.weights.h5` (weights).

Licenses: the weights, {WEIGHTS_LICENSE} (as the zoo's code). {_data_licenses(entry)}
"""


def _data_licenses(entry):
    """The card's data-license sentence: the training data's, and the test data's where it is another set."""
    names = [entry.get("validation", {}).get("name"), entry["dataset"]["name"]]
    names = list(dict.fromkeys(name.removesuffix(" (luma)") for name in names if name))
    if len(names) == 1:
        return f"The data, {data.license_of(names[0])}"
    return f"The training data ({names[0]}), {data.license_of(names[0])} The test data ({names[1]}), {data.license_of(names[1])}"


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
