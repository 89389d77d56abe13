"""The harness: fixed seed, resume after an interruption, choose on validation, publish only what is better."""

import dataclasses
import json
import threading
import time

import keras
import numpy as np
import pytest
from tiny import TINY, tiny_model

from zoo import manifest, paths, training
from zoo.idf.recipes import warmup_cosine


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("interrupted")


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_same_seed_same_weights(tmp_path):
    a, _ = training.train(TINY, workdir=tmp_path / "a", publish=False)
    b, _ = training.train(TINY, workdir=tmp_path / "b", publish=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_another_seed_other_weights_and_the_seed_is_recorded(isolated, tmp_path):
    a, _ = training.train(TINY, workdir=tmp_path / "a", publish=False)
    b, _ = training.train(TINY, workdir=tmp_path / "b", seed=1, publish=False)
    assert not all(np.array_equal(wa, wb) for wa, wb in zip(a.get_weights(), b.get_weights()))
    assert TINY.recipe.seed == 0  # the registered recipe is left alone
    training.train(TINY, workdir=tmp_path / "c", seed=2)
    assert manifest.entry(TINY.name)["training"]["seed"] == 2


def test_interrupted_run_resumes_from_its_backup(tmp_path):
    with pytest.raises(RuntimeError, match="interrupted"):
        training.train(TINY, epochs=3, workdir=tmp_path, publish=False, callbacks=[_StopAt(epoch=1, batch=3)])
    epochs = _Epochs()
    training.train(TINY, epochs=3, workdir=tmp_path, publish=False, callbacks=[epochs])
    assert epochs.seen == [1, 2]  # epoch 0 was not trained again
    assert (tmp_path / "last.weights.h5").exists() and any((tmp_path / "logs").iterdir())


def test_train_publishes_then_only_a_better_validation_metric_replaces_it(isolated, tmp_path):
    model, metrics = training.train(TINY, epochs=3, workdir=tmp_path / "run", command="zoo train tiny-mlp-synthetic")
    item = manifest.entry(TINY.name)
    folder = paths.LOCAL_HUB / item["repo_id"]
    assert manifest.describe_files(folder) == item["files"]
    assert item["metrics"] == metrics["test"] and item["revision"] is None
    assert item["selection"] == "validation"
    assert item["validation"] == {"name": "synthetic", "split": "train[90%:]", "version": "0", "examples": 52,
                                  "metrics": metrics["validation"]}
    assert item["dataset"] == {"name": "synthetic", "split": "test", "version": "0", "examples": 512}
    assert item["commands"] == {"train": "zoo train tiny-mlp-synthetic", "eval": f"zoo eval {TINY.name}"}
    assert item["code"] == training.code_version() and len(item["code"]["commit"]) == 40
    assert item["training"]["epochs"] == 3 and 1 <= item["training"]["best_epoch"] <= 3
    assert item["training"]["wall_clock_s"] > 0
    card = (folder / "README.md").read_text()
    assert f"| accuracy | {metrics['test']['accuracy']} | {metrics['validation']['accuracy']} |" in card

    test, val = metrics["test"], metrics["validation"]
    better_test_worse_val = dict(accuracy=test["accuracy"] + 0.1, loss=0.0)
    worse_val = dict(val, accuracy=val["accuracy"] - 0.01)
    assert not training.publish_if_better(model, TINY, better_test_worse_val, "zoo train x", validation=worse_val)
    assert manifest.entry(TINY.name) == item and manifest.describe_files(folder) == item["files"]

    better_val = dict(val, accuracy=val["accuracy"] + 0.01)
    worse_test = dict(test, accuracy=test["accuracy"] - 0.1)
    assert training.publish_if_better(model, TINY, worse_test, "zoo train x --epochs 9", validation=better_val)
    history = manifest.entry(TINY.name)["history"]
    assert [h["validation_metrics"]["accuracy"] for h in history] == [val["accuracy"], better_val["accuracy"]]


def test_a_test_selected_entry_is_measured_on_validation_before_it_is_replaced(isolated, tmp_path, monkeypatch):
    model, metrics = training.train(TINY, epochs=1, workdir=tmp_path / "run")
    legacy = manifest.entry(TINY.name)
    del legacy["validation"]
    legacy["selection"] = "test"
    manifest.write_entry(TINY.name, legacy)
    measured = []
    monkeypatch.setattr(training, "evaluate", lambda m, spec, split=None, **kw: measured.append(split) or
                        {"accuracy": metrics["validation"]["accuracy"], "loss": 0.0})
    monkeypatch.setattr("zoo.loading.load", lambda name: model)
    same = metrics["validation"]
    assert not training.publish_if_better(model, TINY, metrics["test"], "zoo train x", validation=same)
    assert measured == ["train[90%:]"]


def test_two_runs_finishing_together_publish_one_after_the_other(isolated, tmp_path):
    """The second run to reach the publishing step waits for the first, then compares with what the first
    published: a worse run does not replace a better one that published while it was measuring."""
    model, metrics = training.train(TINY, epochs=1, workdir=tmp_path / "run")
    val, test = metrics["validation"], metrics["test"]
    first_in, events = threading.Event(), []

    def first():
        with training.publishing():
            first_in.set()
            time.sleep(0.5)  # the first run measures its test split
            events.append("first published")
            training.publish_checkpoint(model, TINY, test, "zoo train first", validation=dict(val, accuracy=0.99))

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait()
    second = training.publish_if_better(model, TINY, test, "zoo train second", validation=dict(val, accuracy=0.98))
    events.append("second decided")
    thread.join()
    assert events == ["first published", "second decided"] and not second
    assert manifest.entry(TINY.name)["commands"]["train"] == "zoo train first"
    with training.publishing(), training.publishing():  # re-entrant within a thread
        assert training.publish_if_better(model, TINY, test, "zoo train third", validation=dict(val, accuracy=0.995))


class _WorseAfterFirst(keras.callbacks.Callback):
    """From the second epoch on, leaves the model after every batch at the first epoch's weights with the
    head negated: every prediction flips, so those epochs are worse on validation."""

    def __init__(self, kept):
        super().__init__()
        self.kept, self.epoch = kept, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if not self.kept:
            self.kept.append([w.copy() for w in self.model.get_weights()])

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch >= 1:
            *body, kernel, bias = self.kept[0]
            self.model.set_weights([*body, -kernel, -bias])


def test_the_best_validation_epoch_is_the_result_even_across_a_resume(tmp_path):
    epochs = _Epochs()
    kept = []
    with pytest.raises(RuntimeError, match="interrupted"):
        training.train(TINY, epochs=4, workdir=tmp_path, publish=False,
                       callbacks=[_WorseAfterFirst(kept), _StopAt(epoch=2, batch=1)])
    state = json.loads((tmp_path / "best.json").read_text())
    assert [e["epoch"] for e in state["epochs"]] == [1, 2] and state["best_epoch"] == 1
    model, _ = training.train(TINY, epochs=4, workdir=tmp_path, publish=False, callbacks=[_WorseAfterFirst(kept), epochs])
    assert epochs.seen == [2, 3]
    state = json.loads((tmp_path / "best.json").read_text())
    assert [e["epoch"] for e in state["epochs"]] == [1, 2, 3, 4] and state["best_epoch"] == 1
    for got, want in zip(model.get_weights(), kept[0]):
        np.testing.assert_array_equal(got, want)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="default, mirrored, multi-worker"):
        training.make_strategy("tpu")


def test_from_pretrained_starts_at_the_published_weights(isolated, tmp_path, monkeypatch):
    model, _ = training.train(TINY, epochs=1, workdir=tmp_path / "first")  # publishes into the isolated hub
    seen = []

    class _First(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])

    training.train(TINY, epochs=1, workdir=tmp_path / "second", publish=False, from_pretrained=True, callbacks=[_First()])
    for start, trained in zip(seen[0], model.get_weights()):
        np.testing.assert_allclose(start, trained, rtol=1e-6)

    commands, runs = [], []  # the command it would publish chains the one that made its starting checkpoint
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint",
                        lambda model, spec, metrics, command, run, **kw: commands.append(command) or runs.append(run))
    training.train(TINY, epochs=2, workdir=tmp_path / "third", from_pretrained=True, command="zoo train tiny --epochs 2")
    assert commands == ["zoo train tiny-mlp-synthetic && zoo train tiny --epochs 2"]
    first = manifest.entry(TINY.name)["training"]
    assert runs[0]["total_epochs"] == first["epochs"] + 2  # the chain's whole budget is recorded
    assert runs[0]["total_wall_clock_s"] > first["wall_clock_s"]


def test_from_weights_starts_at_a_run_s_weights_and_chains_its_command(isolated, tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint",
                        lambda model, spec, metrics, command, run, **kw: commands.append((command, run)))
    model, _ = training.train(TINY, epochs=1, workdir=tmp_path / "first", command="zoo train tiny --workdir first")
    seen = []

    class _First(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])

    weights = tmp_path / "first" / "best.weights.h5"
    training.train(TINY, epochs=1, workdir=tmp_path / "second", from_weights=weights, callbacks=[_First()],
                   command="zoo train tiny --from-weights first/best.weights.h5")
    for start, trained in zip(seen[0], model.get_weights()):
        np.testing.assert_allclose(start, trained, rtol=1e-6)
    command, run = commands[-1]
    assert command == "zoo train tiny --workdir first && zoo train tiny --from-weights first/best.weights.h5"
    assert run["initialized_from"]["weights_sha256"] == manifest.sha256(weights)
    with pytest.raises(ValueError, match="not two of them"):
        training.train(TINY, epochs=1, workdir=tmp_path / "third", from_weights=weights, from_pretrained=True)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        training.train(TINY, epochs=1, workdir=tmp_path / "third", from_weights=tmp_path / "missing.weights.h5")


def test_from_scratch_skips_the_recipe_s_initializer(isolated, tmp_path, monkeypatch):
    import dataclasses

    called = []
    recipe = dataclasses.replace(TINY.recipe, initialize=lambda model: called.append(model) or {"model": "other"})
    published = []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint", lambda model, spec, metrics, command, run, **kw: published.append(run))
    spec = dataclasses.replace(TINY, recipe=recipe)
    training.train(spec, epochs=1, steps_per_epoch=2, workdir=tmp_path / "a")
    assert len(called) == 1 and published[-1]["initialized_from"] == {"model": "other"}
    training.train(spec, epochs=1, steps_per_epoch=2, workdir=tmp_path / "b", from_scratch=True)
    assert len(called) == 1 and "initialized_from" not in published[-1]
    with pytest.raises(ValueError, match="not two of them"):
        training.train(spec, epochs=1, workdir=tmp_path / "c", from_scratch=True, from_pretrained=True)


def test_the_optimizer_is_made_for_the_run_s_total_steps(isolated, tmp_path):
    import dataclasses

    asked = []
    recipe = dataclasses.replace(TINY.recipe, optimizer=lambda total: asked.append(total) or keras.optimizers.SGD(0.1))
    spec = dataclasses.replace(TINY, recipe=recipe)
    training.train(spec, epochs=3, steps_per_epoch=5, workdir=tmp_path, publish=False)
    assert asked == [15]  # so a schedule decays over the epochs asked for, not the recipe's


def test_the_training_log_is_published_and_a_continuation_extends_it(isolated, tmp_path):
    training.train(TINY, epochs=2, workdir=tmp_path / "first", command="zoo train tiny-mlp-synthetic")
    log = training.load_training_log(TINY.name)
    assert [r["command"] for r in log["runs"]] == ["zoo train tiny-mlp-synthetic"]
    best = json.loads((tmp_path / "first" / "best.json").read_text())
    assert log["runs"][0]["epochs"] == best["epochs"] and [e["epoch"] for e in best["epochs"]] == [1, 2]
    assert all(e["seconds"] > 0 and "val_accuracy" in e for e in best["epochs"])
    assert manifest.entry(TINY.name)["files"]["training_log.json"]["size"] > 0  # pinned like the weights

    model, metrics = training.train(TINY, epochs=1, workdir=tmp_path / "more", from_pretrained=True,
                                    command="zoo train tiny --from-pretrained --epochs 1", publish=False)
    better = dict(metrics or {}, accuracy=2.0, loss=0.0)  # force a publish, without its log: the old one goes
    training.publish_checkpoint(model, TINY, better, "x", validation=better)
    with pytest.raises(FileNotFoundError, match="without a training_log.json"):
        training.load_training_log(TINY.name)


def test_a_continuation_s_log_starts_with_its_checkpoint_s_runs(isolated, tmp_path, monkeypatch):
    training.train(TINY, epochs=1, workdir=tmp_path / "first", command="zoo train a")
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    training.train(TINY, epochs=2, workdir=tmp_path / "more", from_pretrained=True, command="zoo train b")
    runs = training.load_training_log(TINY.name)["runs"]
    assert [r["command"] for r in runs] == ["zoo train a", "zoo train b"]
    assert [len(r["epochs"]) for r in runs] == [1, 2]
    assert json.loads((tmp_path / "more" / "training_log.json").read_text())["runs"] == runs


OPTIMIZERS = [
    lambda: keras.optimizers.Adam(3e-2),
    lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-2, 100, alpha=0.01, warmup_target=6e-2,
                                                                         warmup_steps=10)),
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_lr_scale_multiplies_the_learning_rate_at_every_step(optimizer):
    plain, scaled = optimizer(), training.scale_learning_rate(optimizer(), 0.1)
    for step in (0, 5, 10, 60, 110):
        plain.iterations.assign(step)
        scaled.iterations.assign(step)
        np.testing.assert_allclose(float(scaled.learning_rate), 0.1 * float(plain.learning_rate), rtol=1e-6)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(scaled))  # the scaled schedule serializes
    again.iterations.assign(60)
    scaled.iterations.assign(60)
    np.testing.assert_allclose(float(again.learning_rate), float(scaled.learning_rate), rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        training.scale_learning_rate(optimizer(), 0)


def test_a_scaled_run_records_its_scale(isolated, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint", lambda model, spec, metrics, command, run, **kw: runs.append(run))
    training.train(TINY, epochs=1, workdir=tmp_path, lr_scale=0.5)
    assert runs[0]["lr_scale"] == 0.5


def test_clip_norm_bounds_every_step_and_is_recorded(isolated, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint", lambda model, spec, metrics, command, run, **kw: runs.append(run))

    def step_norms(workdir, **kw):
        trajectory = _Trajectory()
        training.train(TINY, epochs=1, steps_per_epoch=3, workdir=workdir, callbacks=[trajectory], **kw)
        weights = [trajectory.epoch_starts[0], *trajectory.steps]
        return [np.sqrt(sum(np.sum((b - a) ** 2) for a, b in zip(w0, w1))) for w0, w1 in zip(weights, weights[1:])]

    free = step_norms(tmp_path / "free")
    clipped = step_norms(tmp_path / "clipped", clip_norm=1e-3)
    assert min(free) > 1e-2
    assert max(clipped) <= 0.1 * 1e-3 * (1 + 1e-4)  # SGD(0.1): a step moves the weights by the rate x the gradient
    assert runs[-1]["clip_norm"] == 1e-3 and "clip_norm" not in runs[0]
    with pytest.raises(ValueError, match="clip_norm must be positive"):
        training.train(TINY, epochs=1, workdir=tmp_path / "bad", clip_norm=0)


@pytest.mark.parametrize("helps", [True, False])
def test_the_finish_step_runs_on_the_best_weights_and_is_kept_only_if_validation_improves(
        isolated, tmp_path, monkeypatch, helps):
    import dataclasses

    seen, published = [], []

    def finish(model, recipe, data_dir):
        seen.append([w.copy() for w in model.get_weights()])
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        return {"step": "zeroed"}

    def evaluate(model, spec, **kw):  # the zeroed weights validate better or worse than the trained ones
        zeroed = all(not w.any() for w in model.get_weights())
        return {"accuracy": 0.5 + (0.25 if helps else -0.25) * zeroed, "loss": 1.0}

    monkeypatch.setattr(training, "evaluate", evaluate)
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint",
                        lambda model, spec, metrics, command, run, **kw: published.append((model.get_weights(), run)))
    spec = dataclasses.replace(TINY, recipe=dataclasses.replace(TINY.recipe, finish=finish))
    model, metrics = training.train(spec, epochs=2, steps_per_epoch=2, workdir=tmp_path)
    best = TINY.builder()
    best.load_weights(tmp_path / "best.weights.h5")
    for before, kept in zip(seen[0], best.get_weights()):
        np.testing.assert_array_equal(before, kept)  # the finish step saw the best epoch's weights
    weights, run = published[-1]
    assert run["finished"] == {"step": "zeroed", "validation_before": 0.5, "validation_after": 0.5 + (0.25 if helps else -0.25),
                               "kept": helps}
    kept = TINY.builder()
    kept.load_weights(tmp_path / training.FINISHED_WEIGHTS)
    for ours, published_weights, best_weights in zip(kept.get_weights(), weights, best.get_weights()):
        np.testing.assert_array_equal(ours, published_weights)
        np.testing.assert_array_equal(ours, np.zeros_like(ours) if helps else best_weights)
    assert metrics["validation"]["accuracy"] == (0.75 if helps else 0.5)


def test_every_epoch_the_evaluator_is_told_what_kerass_validation_pass_measured(isolated, tmp_path):
    import dataclasses

    skipped = []

    def evaluator(model, recipe, split, data_dir, skip=()):
        skipped.append(set(skip))
        return {"extra": 0.25}

    spec = dataclasses.replace(TINY, recipe=dataclasses.replace(TINY.recipe, evaluator=evaluator))
    training.train(spec, epochs=2, steps_per_epoch=2, workdir=tmp_path, publish=False)
    assert skipped == [{"loss", "accuracy"}] * 2
    epochs = json.loads((tmp_path / "best.json").read_text())["epochs"]
    assert all(e["val_extra"] == 0.25 and "val_accuracy" in e for e in epochs)  # Keras's metrics stay in the logs


def test_no_finish_publishes_the_best_epoch_as_it_is_and_records_the_skip(isolated, tmp_path, monkeypatch):
    import dataclasses

    calls, published = [], []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint",
                        lambda model, spec, metrics, command, run, **kw: published.append((model.get_weights(), run)))
    spec = dataclasses.replace(TINY, recipe=dataclasses.replace(
        TINY.recipe, finish=lambda model, recipe, data_dir: calls.append(1) or {"step": "x"}))
    training.train(spec, epochs=2, steps_per_epoch=2, workdir=tmp_path, finish=False)
    assert calls == [] and not (tmp_path / training.FINISHED_WEIGHTS).exists()
    weights, run = published[-1]
    assert run["finish_skipped"] is True and "finished" not in run
    best = TINY.builder()
    best.load_weights(tmp_path / "best.weights.h5")
    for ours, theirs in zip(weights, best.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match="no finish step to skip"):
        training.train(TINY, epochs=1, steps_per_epoch=2, workdir=tmp_path / "other", finish=False)


def test_zero_epochs_finish_and_measure_existing_weights(isolated, tmp_path, monkeypatch):
    import dataclasses

    finished, published = [], []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint",
                        lambda model, spec, metrics, command, run, training_log, **kw: published.append((command, run, training_log)))
    spec = dataclasses.replace(TINY, recipe=dataclasses.replace(
        TINY.recipe, finish=lambda model, recipe, data_dir: finished.append(model.get_weights()) or {"step": "x"}))
    trained, _ = training.train(TINY, epochs=1, steps_per_epoch=2, workdir=tmp_path / "first",
                                command="zoo train tiny --workdir first")
    other = TINY.builder()
    other.set_weights([2 * w for w in trained.get_weights()])
    weights = tmp_path / "first" / "other.weights.h5"  # beside the first run's log, so its command chains
    other.save_weights(weights)
    first = json.loads((tmp_path / "first" / training.RUN_RECORD).read_text())
    epochs = _Epochs()
    training.train(spec, epochs=0, workdir=tmp_path / "first", from_weights=weights, callbacks=[epochs],
                   command="zoo train tiny --from-weights first/other.weights.h5 --epochs 0")
    assert epochs.seen == []  # nothing trained, and the workdir's earlier best epoch is not restored over it
    for ours, theirs in zip(finished[0], other.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    command, run, log = published[-1]
    assert command == "zoo train tiny --workdir first && zoo train tiny --from-weights first/other.weights.h5 --epochs 0"
    assert run["epochs"] == 0 and run["best_epoch"] is None and log["runs"][-1]["epochs"] == []
    assert run["total_epochs"] == 1 and run["total_wall_clock_s"] == first["wall_clock_s"]  # the chain's budget
    with pytest.raises(ValueError, match="measure existing weights"):
        training.train(spec, epochs=0, workdir=tmp_path / "third")
    with pytest.raises(ValueError, match="0 or more"):
        training.train(spec, epochs=-1, workdir=tmp_path / "third", from_weights=weights)


class _Trajectory(keras.callbacks.Callback):
    """The weights after every training step, and at the start of every epoch after the harness's callbacks."""

    def __init__(self):
        super().__init__()
        self.steps, self.epoch_starts = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_starts.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(self.model.get_weights())


def test_a_weight_average_is_what_is_validated_kept_and_published(isolated, tmp_path, monkeypatch):
    momentum, runs, validated = 0.9, [], []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint", lambda model, spec, metrics, command, run, **kw: runs.append(run))
    trajectory = _Trajectory()

    class Validated(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            validated.append(self.model.get_weights())

    model, _ = training.train(TINY, epochs=2, workdir=tmp_path, weight_average=momentum,
                              callbacks=[trajectory, Validated()])
    steps = len(trajectory.steps) // 2
    averages, average = [], None
    for weights in trajectory.steps:  # Keras's average: the weights after the first step, then the moving average
        average = weights if average is None else [momentum * a + (1 - momentum) * w for a, w in zip(average, weights)]
        averages.append(average)
    for epoch in (0, 1):  # validation saw the average of the steps so far
        for got, want in zip(validated[epoch], averages[(epoch + 1) * steps - 1]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(trajectory.epoch_starts[1], trajectory.steps[steps - 1]):  # training went on from the weights
        np.testing.assert_array_equal(got, want)
    best = json.loads((tmp_path / "best.json").read_text())["best_epoch"]
    for got, want in zip(model.get_weights(), averages[best * steps - 1]):  # the best epoch's average is the result
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert runs[0]["weight_average"] == momentum
    with pytest.raises(ValueError, match="momentum"):
        training.train(TINY, epochs=1, workdir=tmp_path / "x", weight_average=1.5)


@pytest.mark.parametrize("optimizer", [*OPTIMIZERS, lambda: warmup_cosine(100, peak=3e-4, warmup=10)])
def test_averaging_keeps_the_optimizer_s_schedule(optimizer):
    plain = training.scale_learning_rate(optimizer(), 0.1)
    averaged = training.averaging(training.scale_learning_rate(optimizer(), 0.1), 0.999)
    assert averaged.use_ema and averaged.ema_momentum == 0.999
    for step in (0, 60):
        plain.iterations.assign(step)
        averaged.iterations.assign(step)
        np.testing.assert_allclose(float(averaged.learning_rate), float(plain.learning_rate), rtol=1e-6)


class _PoisonAt(keras.callbacks.Callback):
    """Makes the model's weights NaN after batch `batch` of epoch `epoch` (both from 0), as a diverging run would."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            for variable in self.model.trainable_variables:
                variable.assign(np.full(variable.shape, np.nan, variable.dtype))


def test_a_run_whose_loss_turns_nan_stops_there_and_publishes_nothing(isolated, tmp_path):
    from zoo.errors import TrainingDivergedError

    epochs = _Epochs()
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, batch 3;.*best epoch before, 1 .*--from-weights"):
        training.train(TINY, epochs=4, workdir=tmp_path, callbacks=[_PoisonAt(epoch=1, batch=2), epochs])
    assert epochs.seen == [0, 1]  # not trained on after the NaN
    assert json.loads((tmp_path / "best.json").read_text())["best_epoch"] == 1
    kept = training.BestEpoch(tmp_path, "val_accuracy", True)
    model = TINY.builder()
    kept.restore(model)
    assert all(np.isfinite(w).all() for w in model.get_weights())  # the best epoch's weights, not the NaN ones
    assert manifest.entry(TINY.name) is None  # nothing published


def test_a_diverged_run_s_best_epoch_continues_with_its_command_and_budget_in_the_chain(isolated, tmp_path, monkeypatch):
    from zoo.errors import TrainingDivergedError

    published = []
    monkeypatch.setattr(training, "beats_published", lambda *a, **kw: True)
    monkeypatch.setattr(training, "publish_checkpoint",
                        lambda model, spec, metrics, command, run, **kw: published.append((command, run)))
    with pytest.raises(TrainingDivergedError):
        training.train(TINY, epochs=4, workdir=tmp_path / "run", callbacks=[_PoisonAt(epoch=1, batch=2)],
                       command="zoo train tiny --epochs 4")
    record = json.loads((tmp_path / "run" / training.RUN_RECORD).read_text())
    assert record["diverged_at"] == [2, 3] and record["epochs"] == 2 and record["best_epoch"] == 1
    training.train(TINY, epochs=0, workdir=tmp_path / "finish", from_weights=tmp_path / "run" / "best.weights.h5",
                   command="zoo train tiny --from-weights run/best.weights.h5 --epochs 0")
    command, run = published[-1]
    assert command == "zoo train tiny --epochs 4 && zoo train tiny --from-weights run/best.weights.h5 --epochs 0"


def test_a_nan_first_epoch_keeps_no_weights(tmp_path):
    from zoo.errors import TrainingDivergedError

    with pytest.raises(TrainingDivergedError, match="No epoch had finished before it"):
        training.train(TINY, epochs=2, workdir=tmp_path, publish=False, callbacks=[_PoisonAt(epoch=0, batch=0)])
    assert not (tmp_path / "best.weights.h5").exists()


def test_a_publishing_run_says_at_its_start_which_code_runs_and_where_it_publishes(isolated, tmp_path, capsys):
    training.train(TINY, epochs=1, workdir=tmp_path)
    first = capsys.readouterr().out.splitlines()[0]
    manifest_path, hub_dir = paths.publish_home()
    assert first.startswith(f"Code: {paths.REPO_ROOT} at commit ")
    assert f"written to {hub_dir} and {manifest_path}." in first


def _tiny_with_mixed_precision():
    """TINY's model with a `set_mixed_precision` that runs its hidden layer in bfloat16."""
    model = tiny_model()

    def set_mixed_precision(enabled):
        model.get_layer("hidden").dtype_policy = "mixed_bfloat16" if enabled else "float32"

    model.set_mixed_precision = set_mixed_precision
    return model


class _HiddenDtypes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test = set(), set()

    def on_train_batch_end(self, batch, logs=None):
        self.train.add(self.model.get_layer("hidden").compute_dtype)

    def on_test_batch_end(self, batch, logs=None):
        self.test.add(self.model.get_layer("hidden").compute_dtype)


def test_mixed_precision_trains_in_bfloat16_and_validates_in_float32(isolated, tmp_path):
    spec = dataclasses.replace(TINY, builder=_tiny_with_mixed_precision)
    seen = _HiddenDtypes()
    model, _ = training.train(spec, epochs=2, workdir=tmp_path / "run", mixed_precision=True, callbacks=[seen])
    assert seen.train == {"bfloat16"} and seen.test == {"float32"}
    assert model.get_layer("hidden").compute_dtype == "float32"  # finished, measured and published in float32
    assert json.loads((tmp_path / "run" / training.RUN_RECORD).read_text())["mixed_precision"] is True


def test_mixed_precision_needs_a_model_that_has_one(tmp_path):
    with pytest.raises(ValueError, match="no mixed precision"):
        training.train(TINY, epochs=1, workdir=tmp_path, publish=False, mixed_precision=True)


def test_a_published_checkpoint_that_records_no_value_of_the_recipes_metric_is_measured_on_validation(
        isolated, tmp_path, monkeypatch, capsys):
    """A recipe that now selects on another metric compares like for like: the published checkpoint is
    measured on the validation split, not compared through a value it never recorded."""
    def load(name):
        model = TINY.builder()
        training.load_published(model, name)
        return model

    monkeypatch.setattr("zoo.loading.load", load)
    training.train(TINY, epochs=1, workdir=tmp_path)  # publishes, with validation accuracy and loss
    entry = manifest.entry(TINY.name)
    assert entry["selected_on"] == "accuracy" == manifest.selected_on(entry, "loss")
    assert training._published_validation(TINY, entry, None) == entry["validation"]["metrics"]
    older = {**entry, "validation": {**entry["validation"], "metrics": {"loss": entry["validation"]["metrics"]["loss"]}}}
    measured = training._published_validation(TINY, older, None)
    assert "records no validation accuracy" in capsys.readouterr().out
    want = training.evaluate(load(TINY.name), TINY, split=TINY.recipe.validation_split)
    assert measured == want and measured["accuracy"] == entry["validation"]["metrics"]["accuracy"]


def test_a_run_resumed_under_another_monitor_keeps_its_epochs_but_chooses_among_the_later_ones(tmp_path, capsys):
    model = TINY.builder()
    first = training.BestEpoch(tmp_path, "val_a", higher_is_better=False)
    first.set_model(model)
    first.on_epoch_begin(0)
    first.on_epoch_end(0, {"loss": 1.0, "val_a": 1.0, "val_b": 5.0})
    resumed = training.BestEpoch(tmp_path, "val_b", higher_is_better=False)
    assert "chosen on 'val_a', not 'val_b'" in capsys.readouterr().out
    assert resumed.best_epoch is None and [e["epoch"] for e in resumed.state["epochs"]] == [1]
    resumed.set_model(model)
    resumed.on_epoch_begin(1)
    resumed.on_epoch_end(1, {"loss": 1.0, "val_a": 0.5, "val_b": 6.0})  # worse than epoch 1's val_b: not a candidate
    state = json.loads((tmp_path / "best.json").read_text())
    assert state["monitor"] == "val_b" and state["best_epoch"] == 2 and state["best"] == 6.0
    assert [e["epoch"] for e in state["epochs"]] == [1, 2]
    same = training.BestEpoch(tmp_path, "val_b", higher_is_better=False)  # the same monitor resumes as before
    assert same.best_epoch == 2


def test_a_crop_side_goes_to_a_recipe_that_trains_on_crops_and_into_the_run(isolated, tmp_path):
    asked = []

    @dataclasses.dataclass(frozen=True)
    class Cropped(type(TINY.recipe)):
        crop: int = 8

        def with_crop(self, crop):
            asked.append(crop)
            return dataclasses.replace(self, crop=crop)

    spec = dataclasses.replace(TINY, recipe=Cropped(**{f.name: getattr(TINY.recipe, f.name)
                                                       for f in dataclasses.fields(TINY.recipe)}))
    training.train(spec, epochs=1, steps_per_epoch=2, workdir=tmp_path / "a", crop=16)
    assert asked == [16] and manifest.entry(TINY.name)["training"]["crop"] == 16
    with pytest.raises(ValueError, match="trains on whole examples, not on crops"):
        training.train(TINY, epochs=1, steps_per_epoch=2, workdir=tmp_path / "b", crop=16)
