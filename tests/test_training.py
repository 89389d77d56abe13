"""The harness: fixed seed, resume after an interruption, publish only what is better."""

import keras
import numpy as np
import pytest
from tiny import TINY

from zoo import manifest, paths, training


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


def test_interrupted_run_resumes_from_its_backup(tmp_path):
    with pytest.raises(RuntimeError, match="interrupted"):
        training.train(TINY, epochs=3, workdir=tmp_path, publish=False, callbacks=[_StopAt(epoch=1, batch=3)])
    epochs = _Epochs()
    training.train(TINY, epochs=3, workdir=tmp_path, publish=False, callbacks=[epochs])
    assert epochs.seen == [1, 2]  # epoch 0 was not trained again
    assert (tmp_path / "last.weights.h5").exists() and any((tmp_path / "logs").iterdir())


def test_train_publishes_then_refuses_a_worse_model(isolated, tmp_path):
    model, metrics = training.train(TINY, epochs=3, workdir=tmp_path / "run", command="zoo train tiny-mlp-synthetic")
    item = manifest.entry(TINY.name)
    folder = paths.LOCAL_HUB / item["repo_id"]
    assert manifest.describe_files(folder) == item["files"]
    assert item["metrics"] == metrics and item["revision"] is None
    assert item["dataset"] == {"name": "synthetic", "split": "test", "version": "0", "examples": 512}
    assert item["commands"] == {"train": "zoo train tiny-mlp-synthetic", "eval": f"zoo eval {TINY.name}"}
    assert f"| accuracy | {metrics['accuracy']} |" in (folder / "README.md").read_text()

    worse = dict(metrics, accuracy=metrics["accuracy"] - 0.01)
    assert not training.publish_if_better(model, TINY, worse, "zoo train tiny-mlp-synthetic")
    assert manifest.entry(TINY.name) == item and manifest.describe_files(folder) == item["files"]

    better = dict(metrics, accuracy=metrics["accuracy"] + 0.01)
    assert training.publish_if_better(model, TINY, better, "zoo train tiny-mlp-synthetic --epochs 9")
    assert [h["metrics"]["accuracy"] for h in manifest.entry(TINY.name)["history"]] == [
        metrics["accuracy"], better["accuracy"]
    ]


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

    commands = []  # the command it would publish chains the one that made its starting checkpoint
    monkeypatch.setattr(training, "publish_if_better", lambda model, spec, metrics, command, **kw: commands.append(command))
    training.train(TINY, epochs=1, workdir=tmp_path / "third", from_pretrained=True, command="zoo train tiny --epochs 1")
    assert commands == ["zoo train tiny-mlp-synthetic && zoo train tiny --epochs 1"]


def test_the_optimizer_is_made_for_the_run_s_total_steps(isolated, tmp_path):
    import dataclasses

    asked = []
    recipe = dataclasses.replace(TINY.recipe, optimizer=lambda total: asked.append(total) or keras.optimizers.SGD(0.1))
    spec = dataclasses.replace(TINY, recipe=recipe)
    training.train(spec, epochs=3, steps_per_epoch=5, workdir=tmp_path, publish=False)
    assert asked == [15]  # so a schedule decays over the epochs asked for, not the recipe's
