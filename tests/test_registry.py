"""The catalogue: names, lookup errors, builders and overrides."""

import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.errors import UnknownModelError, ZooError


def test_catalogue_lists_registered_models():
    assert "cnn-small-mnist" in zoo.list_models()
    assert zoo.list_models("cnn-*") == ["cnn-small-mnist"]
    assert zoo.list_models("nothing-*") == []


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownModelError, match="Did you mean: cnn-small-mnist"):
        zoo.load("cnn-smal-mnist")
    with pytest.raises(UnknownModelError, match="zoo list"):
        zoo.info("zzzz")


@pytest.mark.parametrize("name", ["CNN-mnist", "mnist", "cnn_small_mnist", "cnn--mnist"])
def test_register_rejects_bad_names(name):
    with pytest.raises(ValueError, match="family-variant-dataset"):
        registry.register(name)


def test_register_rejects_a_name_twice():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("cnn-small-mnist")(lambda: None)


def test_untrained_build_and_overrides():
    model = zoo.load("cnn-small-mnist", pretrained=False, num_classes=3)
    assert model.output_shape == (None, 3)
    assert model.input.dtype == "uint8"


def test_info_describes_the_model():
    info = zoo.info("cnn-small-mnist")
    assert info["description"].startswith("Two conv blocks")
    assert info["pretrained"] and info["dataset"]["name"] == "mnist"
    assert info["metrics"]["accuracy"] > 0.98


def test_pretrained_overrides_must_fit_the_weights(published, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    published.copy_to_local_hub()
    same_shapes = zoo.load(published.name, dropout=0.5)  # changes no weight: loads
    np.testing.assert_allclose(same_shapes.predict(published.images, verbose=0), published.expected, rtol=1e-6)
    with pytest.raises(ZooError, match="do not fit"):
        zoo.load(published.name, num_classes=3)


def test_builder_overrides_reach_the_builder_keep_its_description_and_are_recorded():
    spec = registry.spec("snf-fc-mnist")
    changed = registry.with_builder_overrides(spec, {"reconstruction_trains": "inverse"})
    assert changed.description == spec.description and changed.builder_overrides == {"reconstruction_trains": "inverse"}
    assert changed.builder().reconstruction_trains == "inverse"
    assert registry.with_builder_overrides(spec, {}) is spec
    assert registry.parse_overrides(["a=1", "b=x", "c=0.5", "d=true"]) == {"a": 1, "b": "x", "c": 0.5, "d": True}
