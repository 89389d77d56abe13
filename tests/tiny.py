"""A tiny model and recipe on synthetic data, for harness tests that must not depend on real data."""

import keras
import numpy as np
import tensorflow as tf

from zoo.registry import ModelSpec
from zoo.training import Recipe


class SyntheticRecipe(Recipe):
    """Eight-pixel 'images' whose label is whether their mean is above 0.5."""

    SLICES = {"train[:90%]": slice(0, 460), "train[90%:]": slice(460, 512), "test": slice(0, 512)}

    def load(self, split, data_dir=None):
        rng = np.random.default_rng(1 if split == "test" else 0)
        x = rng.random((512, 8)).astype("float32")[self.SLICES[split]]
        y = (x.mean(axis=1) > 0.5).astype("int64")
        return tf.data.Dataset.from_tensor_slices((x, y))

    def describe(self, split, data_dir=None):
        n = self.SLICES[split].stop - self.SLICES[split].start
        return {"name": "synthetic", "split": split, "version": "0", "examples": n}


def tiny_model():
    """A two-layer perceptron on eight numbers."""
    inputs = keras.Input((8,), name="x")
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    probs = keras.layers.Dense(2, activation="softmax", name="head")(hidden)
    return keras.Model(inputs, probs, name="tiny")


TINY = ModelSpec(
    "tiny-mlp-synthetic",
    tiny_model,
    SyntheticRecipe(
        dataset="synthetic",
        epochs=1,
        batch_size=32,
        loss="sparse_categorical_crossentropy",
        metric="accuracy",
        optimizer=lambda total_steps: keras.optimizers.SGD(0.1),
    ),
)
