"""scripts/train_idf_photos_jax.py: the idf-photos recipe as one JAX program computes what `zoo train` does.

JAX lives apart from TensorFlow (with both in one environment, TensorFlow imports JAX, which takes
benchmarks/compression.py for Python 3.14's `compression` package): everything that needs it runs in a
subprocess with `$ZOO_JAX_SITE` (a folder made by `pip install --target DIR jax`; .ci/run makes one) on its
path. Without JAX these tests are skipped."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from zoo.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "train_idf_photos_jax.py"
ENV = {**os.environ, "KERAS_BACKEND": "jax",
       "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("ZOO_JAX_SITE"), str(REPO_ROOT)) if p)}
HAS_JAX = subprocess.run([sys.executable, "-c", "import jax"], env=ENV, capture_output=True).returncode == 0
pytestmark = pytest.mark.skipif(not HAS_JAX, reason="needs JAX: pip install --target DIR jax, then ZOO_JAX_SITE=DIR")
LOAD = "import sys, json, numpy as np; sys.path.insert(0, 'scripts'); import train_idf_photos_jax as t\n"


def _on_jax(code, *args, timeout=600):
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def test_the_flow_on_jax_computes_tensorflows_bits_per_dimension_exactly(tmp_path):
    import zoo

    from zoo import data

    photo = data._read(data.photo_files("train", "validation")[:1], "RGB")[0]
    images = np.stack([photo[:64, :96], photo[64:128, 96:192]])
    images[1, :32, :, :2] = 255  # a blown-out sky, red and green at 255: the priors' edge bins
    np.save(tmp_path / "images.npy", images)
    on_tensorflow = np.asarray(zoo.load("idf-photos")(images))
    out = _on_jax(LOAD + "import keras; model = t.load_flow('hub/zoo-models/idf-photos')\n"
                  "print(json.dumps([keras.backend.backend(), np.asarray(model(np.load(sys.argv[1]))).tolist()]))",
                  tmp_path / "images.npy")
    backend, on_jax = json.loads(out)
    assert backend == "jax"
    assert np.isfinite(on_tensorflow).all()
    np.testing.assert_allclose(on_jax, on_tensorflow, rtol=1e-6)


def _photos():
    """Two photographs whose every 6x6 window, flipped or not, is unique, values below 192 (no clipping)."""
    rng = np.random.default_rng(1)
    big, small = rng.integers(0, 191, (20, 24, 3)), rng.integers(0, 191, (10, 12, 3))
    return [big.astype("uint8"), small.astype("uint8")]


def _explain(crop, photos, size):
    """(photograph, flipped, shift) that `crop` is a window of, brightened per channel by shift."""
    for p, photo in enumerate(photos):
        for y in range(photo.shape[0] - size + 1):
            for x in range(photo.shape[1] - size + 1):
                window = photo[y:y + size, x:x + size].astype(int)
                for flipped, candidate in ((False, window), (True, window[:, ::-1])):
                    shift = crop[0, 0].astype(int) - candidate[0, 0]
                    if np.all((shift >= 0) & (shift <= 64)) and np.array_equal(crop, candidate + shift):
                        return p, flipped, tuple(shift)
    return None


def test_crops_are_windows_flipped_and_brightened_as_the_recipe_augments(tmp_path):
    photos = _photos()
    np.savez(tmp_path / "photos.npz", *photos)
    _on_jax(LOAD + "import jax; photos = list(np.load(sys.argv[1]).values())\n"
            "np.save(sys.argv[2], np.asarray(t.crop_sampler(photos, 6)(jax.random.key(0), 600)))",
            tmp_path / "photos.npz", tmp_path / "crops.npy")
    crops = np.load(tmp_path / "crops.npy")
    explained = [_explain(crop, photos, 6) for crop in crops]
    assert None not in explained  # every crop is a window of a photograph, flipped or not, brightened or not
    chosen = np.array([p for p, _, _ in explained])
    flipped = np.array([f for _, f, _ in explained])
    brightened = np.array([any(s) for _, _, s in explained])
    # photographs drawn in proportion to their area (4:1), flips and highlights each with probability 1/2
    assert abs(np.mean(chosen == 0) - 0.8) < 4 * np.sqrt(0.16 / 600)
    assert abs(np.mean(flipped) - 0.5) < 4 * np.sqrt(0.25 / 600)
    assert abs(np.mean(brightened) - 0.5 * (1 - 65**-3)) < 4 * np.sqrt(0.25 / 600)


def test_the_schedule_is_the_recipes_warmup_cosine():
    import keras

    from zoo.idf.recipes import warmup_cosine

    cases = [(step, total) for total in (400, 31744) for step in (0, 1, 17, total // 10, total // 2, total - 1, total)]
    ours = json.loads(_on_jax(LOAD + "print(json.dumps([t.learning_rate(s, n, 3e-4) for s, n in json.loads(sys.argv[1])]))",
                              json.dumps(cases)))
    for (step, total), rate in zip(cases, ours):
        theirs = keras.optimizers.schedules.deserialize(warmup_cosine(total, peak=3e-4).get_config()["learning_rate"])
        assert rate == pytest.approx(float(theirs(step)), rel=1e-5, abs=1e-12)


def test_a_short_run_saves_weights_tensorflow_loads_and_chains_the_published_run(tmp_path):
    import zoo
    import zoo.idf  # noqa: F401  (registers the flow's classes for checkpoint.load)
    from zoo import checkpoint, data, manifest
    from zoo.data import photos_dir

    out = tmp_path / "run"
    _on_jax("import sys, runpy; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            SCRIPT, "hub/zoo-models/idf-photos", "--photos", photos_dir() / "train",
            "--out", out, "--epochs", 2, "--steps-per-epoch", 2, "--chunk", 1, "--batch-size", 1, "--crop", 32,
            "--save-at", 0.5, 1.0, "--seed", 3)
    assert sorted(p.name for p in out.glob("*.weights.h5")) == ["epoch0001.weights.h5", "epoch0002.weights.h5"]
    model = checkpoint.load(REPO_ROOT / "hub/zoo-models/idf-photos/config.json", out / "epoch0002.weights.h5")
    photo = data._read(data.photo_files("train", "validation")[:1], "RGB")[0]
    images = photo[None, :64, :64]
    before = float(np.asarray(zoo.load("idf-photos")(images))[0])
    assert abs(float(np.asarray(model(images))[0]) - before) < 0.1 * before  # two small steps from the published
    run = json.loads((out / "run.json").read_text())
    published = manifest.entry("idf-photos")["training"]
    assert run["epochs"] == 2 and run["total_epochs"] == published["total_epochs"] + 2
    assert run["initialized_from"]["weights_sha256"] == manifest.entry("idf-photos")["files"]["model.weights.h5"]["sha256"]
    runs = json.loads((out / "training_log.json").read_text())["runs"]
    published_log = json.loads((REPO_ROOT / "hub/zoo-models/idf-photos/training_log.json").read_text())["runs"]
    assert runs[:-1] == published_log and "--epochs 2 " in runs[-1]["command"]
    assert [e["epoch"] for e in runs[-1]["epochs"]] == [1, 2]
