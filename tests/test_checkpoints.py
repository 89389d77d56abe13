"""Every checkpoint in the repository: pinned bytes, loadable offline, rebuilt by its builder, honest docs."""

import json
import re

import numpy as np
import pytest

import zoo
from zoo import checkpoint, manifest, paths, registry, training

ENTRIES = manifest.read()
NAMES = sorted(ENTRIES)


def test_manifest_has_entries_and_all_are_registered():
    assert NAMES, "the manifest pins no checkpoint"
    assert set(NAMES) <= set(zoo.list_models())


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete(name):
    item = ENTRIES[name]
    assert item["repo_id"] == f"{paths.HUB_ORG}/{name}"
    assert item["revision"] is None or re.fullmatch(r"[0-9a-f]{40}", item["revision"])
    assert {"name", "split", "version", "examples"} <= set(item["dataset"])
    assert manifest.selected_on(item, registry.spec(name).recipe.metric) in item["metrics"]
    assert item["commands"]["train"].startswith("zoo train ") and item["commands"]["eval"] == f"zoo eval {name}"
    standing = [h for h in item["history"] if "withdrawn" not in h]  # withdrawn ones stay on record
    assert standing[-1]["metrics"] == item["metrics"] and standing[-1]["files"]["model.weights.h5"] == item["files"]["model.weights.h5"]
    assert all(h["withdrawn"]["reason"] and h["files"] != item["files"] for h in item["history"] if "withdrawn" in h)
    required = {"config.json", "model.weights.h5", "README.md"}
    assert required <= set(item["files"]) <= required | {training.TRAINING_LOG}  # the log: since 2026-12-02
    assert re.fullmatch(r"[0-9a-f]{40}", item["code"]["commit"])
    assert item["selection"] in {"validation", "test"}
    if item["selection"] == "validation":  # chosen on held-out training data; test measured once, reported
        recipe = registry.spec(name).recipe
        assert item["validation"]["split"] == recipe.validation_split and item["dataset"]["split"] == recipe.eval_split
        assert manifest.selected_on(item, recipe.metric) in item["validation"]["metrics"]
        assert item["code"]["dirty"] is False
        assert {"epochs", "best_epoch", "wall_clock_s"} <= set(item["training"])


@pytest.mark.parametrize("name", NAMES)
def test_in_repo_files_match_the_manifest_byte_for_byte(name):
    folder = paths.LOCAL_HUB / ENTRIES[name]["repo_id"]
    assert manifest.describe_files(folder) == ENTRIES[name]["files"]


def test_hub_folder_holds_only_pinned_checkpoints():
    folders = {p.parent.relative_to(paths.LOCAL_HUB).as_posix() for p in paths.LOCAL_HUB.glob("*/*/*")}
    assert folders == {ENTRIES[n]["repo_id"] for n in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_loads_offline_and_matches_its_builder(name, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("ZOO_WEIGHTS_DIR", raising=False)
    model = zoo.load(name)
    config = json.loads((paths.LOCAL_HUB / ENTRIES[name]["repo_id"] / checkpoint.CONFIG).read_text())
    overrides = ENTRIES[name].get("training", {}).get("builder_overrides", {})  # a run's `zoo train --set`
    built = json.loads(json.dumps(checkpoint.model_config(registry.spec(name).builder(**overrides))))  # tuples -> lists
    assert built == config
    # saved, reloaded: identical outputs
    shape = getattr(model, "image_shape", None) or model.input_shape[1:]  # every zoo model takes uint8 images
    inputs = np.random.default_rng(0).integers(0, 256, (4, *shape)).astype("uint8")
    checkpoint.save(model, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    np.testing.assert_array_equal(model.predict(inputs, verbose=0), again.predict(inputs, verbose=0))


def test_readme_table_shows_the_manifest_metrics():
    readme = (paths.REPO_ROOT / "README.md").read_text()
    for name in NAMES:
        metric = manifest.selected_on(ENTRIES[name], registry.spec(name).recipe.metric)
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"README has no catalogue row for {name}"
        assert f"{ENTRIES[name]['metrics'][metric]:.4f}" in row
        assert f"| {ENTRIES[name]['selection']} |" in row, f"README's row for {name} must say how it was selected"


@pytest.mark.parametrize("name", NAMES)
def test_model_card_names_paper_licenses_data_and_metrics(name):
    from zoo import training

    item = ENTRIES[name]
    card = (paths.LOCAL_HUB / item["repo_id"] / "README.md").read_text()
    assert card == training.model_card(registry.spec(name), item), "run python scripts/write_cards.py"
    recipe = registry.spec(name).recipe
    assert recipe.paper in card and ("arXiv:" in card or name.startswith("cnn-"))
    assert "Licenses: the weights, Apache-2.0" in card and item["dataset"]["version"] in card
    assert "own terms" not in card, "add the data set to zoo.data.LICENSES"
    assert f"split `{item['dataset']['split']}`" in card and manifest.selected_on(item, recipe.metric) in card


@pytest.mark.parametrize("name", [n for n in NAMES if "training_log.json" in ENTRIES[n]["files"]])
def test_a_published_training_log_ends_with_the_run_that_made_the_checkpoint(name):
    runs = training.load_training_log(name)["runs"]
    item = ENTRIES[name]
    last = runs[-1]
    assert item["commands"]["train"].endswith(last["command"])
    assert len(last["epochs"]) == item["training"]["epochs"]
    assert [e["epoch"] for e in last["epochs"]] == list(range(1, item["training"]["epochs"] + 1))
    if item["training"]["best_epoch"] is None:  # --epochs 0: earlier weights finished and measured, nothing trained
        assert item["training"]["epochs"] == 0 and len(runs) > 1
        assert "finished" in item["training"] or item["training"].get("finish_skipped")
        return
    best = last["epochs"][item["training"]["best_epoch"] - 1][last["monitor"]]
    if "finished" not in item["training"]:  # a recipe's finish step moves the metric after the best epoch
        assert best == pytest.approx(item["validation"]["metrics"][last["monitor"].removeprefix("val_")], rel=1e-3)
