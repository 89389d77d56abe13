"""Slow: every published metric re-measured by `zoo eval NAME --check`, and a `.keras` round trip of every
registered model. Run with `pytest -m slow` (about an hour on 2 CPU cores)."""

import keras
import numpy as np
import pytest
from conftest import needs_data

import zoo
from zoo import cli, manifest

PUBLISHED = sorted(manifest.read())


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLISHED)
def test_zoo_eval_check_reproduces_the_manifest(name, capsys):
    assert cli.main(["eval", name, "--check"]) == 0, capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_models())
def test_keras_round_trip_of_every_registered_model(name, tmp_path):
    model = zoo.load(name, pretrained=name in PUBLISHED)
    shape = getattr(model, "image_shape", None) or model.input_shape[1:]
    images = np.random.default_rng(0).integers(0, 256, (2, *shape)).astype("uint8")
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(model.predict(images, verbose=0), again.predict(images, verbose=0))


def test_eval_check_fails_on_drift(monkeypatch, capsys):
    from zoo import training

    name = "cnn-small-mnist"
    published = manifest.entry(name)["metrics"]
    monkeypatch.setattr(training, "evaluate", lambda *a, **kw: {k: v + 0.01 for k, v in published.items()})
    assert cli.main(["eval", name, "--check"]) == 3
    assert "drifted from the manifest" in capsys.readouterr().err
    monkeypatch.setattr(training, "evaluate", lambda *a, **kw: dict(published))
    assert cli.main(["eval", name, "--check"]) == 0
