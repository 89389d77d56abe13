"""A checkpoint folder: `config.json` (the Keras config) + `model.weights.h5` + a model card.

Example:
    >>> from zoo import checkpoint
    >>> checkpoint.save(model, "hub/zoo-models/cnn-small-mnist", card="# cnn-small-mnist ...")
    >>> same = checkpoint.load("hub/zoo-models/cnn-small-mnist/config.json",
    ...                        "hub/zoo-models/cnn-small-mnist/model.weights.h5")
"""

import copy
import json
from pathlib import Path

import keras

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
CARD = "README.md"


def model_config(model):
    """The Keras config that rebuilds `model`'s architecture (no optimizer, no compile state)."""
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    config.pop("build_config", None)
    return config


def save(model, folder, card):
    """Write `model` to `folder` as config.json, model.weights.h5 and README.md.

    The weights are written from a fresh rebuild of the config, so the file holds
    the model's variables only (no optimizer state) and the config is proven to
    rebuild the architecture.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = model_config(model)
    rebuilt = keras.saving.deserialize_keras_object(copy.deepcopy(config))  # it consumes its argument
    for layer in model.layers:  # layer by layer: a compiled model also holds metric variables
        rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    rebuilt.save_weights(folder / WEIGHTS)
    (folder / CARD).write_text(card)
    return folder


def load(config_path, weights_path):
    """Rebuild the model from its config file and load its weights."""
    model = keras.saving.deserialize_keras_object(json.loads(Path(config_path).read_text()))
    model.load_weights(weights_path)
    return model
