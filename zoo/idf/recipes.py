"""Registered IDF models and how each is trained."""

import keras
import tensorflow as tf

from zoo.idf.model import IntegerDiscreteFlow
from zoo.registry import register
from zoo.training import Recipe


def bpd(y_true, y_pred):
    """The loss and metric: the model's output already is each image's bits per dimension."""
    return y_pred


def _flip(image, label):
    return tf.image.random_flip_left_right(image), label


CIFAR10_RECIPE = Recipe(
    dataset="cifar10",
    epochs=12,
    batch_size=64,
    loss=bpd,
    metric="bpd",
    metrics=(bpd,),
    higher_is_better=False,
    optimizer=lambda steps: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.05)),
    augment=_flip,
)


def idf(image_shape=(32, 32, 3), levels=3, flows_per_level=4, width=96, depth=0, mixtures=5, seed=0):
    """An Integer Discrete Flow for uint8 images of `image_shape` (see `IntegerDiscreteFlow`)."""
    return IntegerDiscreteFlow(image_shape, levels, flows_per_level, width, depth, mixtures, seed, name="idf")


@register("idf-cifar10", recipe=CIFAR10_RECIPE)
def idf_cifar10(**overrides):
    """Integer Discrete Flow, lossless model of 32x32 CIFAR-10 images (uint8 in, bits per dimension out)."""
    return idf(**{"image_shape": (32, 32, 3), **overrides})
