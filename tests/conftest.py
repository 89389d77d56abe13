import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # helpers: fake_hub, tiny

import hashlib  # noqa: E402
import shutil  # noqa: E402
import types  # noqa: E402

import huggingface_hub.constants  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import zoo  # noqa: E402
from zoo import checkpoint, manifest, paths  # noqa: E402

DATA_DIR = os.environ.get("ZOO_DATA_DIR")
needs_data = pytest.mark.skipif(
    not (DATA_DIR and Path(DATA_DIR, "mnist").is_dir()),
    reason="needs ZOO_DATA_DIR with the prepared data sets (see README)",
)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty manifest, in-repo hub and Hugging Face cache, with no weights dir and the Hub online."""
    monkeypatch.setattr(paths, "MANIFEST_PATH", tmp_path / "weights_manifest.json")
    monkeypatch.setattr(paths, "LOCAL_HUB", tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    for var in ("ZOO_WEIGHTS_DIR", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def published(isolated):
    """cnn-small-mnist with random weights, 'published' at a fake revision: files in `served/`, pinned in the manifest.

    Nothing is in the in-repo hub or the cache yet; tests put copies where they need them.
    """
    name = "cnn-small-mnist"
    repo_id = f"{paths.HUB_ORG}/{name}"
    revision = hashlib.sha1(b"fake commit").hexdigest()
    keras.utils.set_random_seed(1)
    model = zoo.load(name, pretrained=False)
    served = isolated / "served"
    checkpoint.save(model, served / repo_id, card=f"# {name}\n")
    files = manifest.describe_files(served / repo_id)
    manifest.write_entry(name, {"repo_id": repo_id, "revision": revision, "files": files, "metrics": {}})
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype("uint8")
    return types.SimpleNamespace(
        name=name,
        repo_id=repo_id,
        revision=revision,
        served=served,
        files=files,
        images=images,
        expected=model.predict(images, verbose=0),
        copy_to_local_hub=lambda: shutil.copytree(served, paths.LOCAL_HUB),
    )
