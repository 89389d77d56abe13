"""Registered IDF models and how each is trained."""

import keras
import tensorflow as tf

from zoo.idf.model import IntegerDiscreteFlow
from zoo.registry import register
from zoo.training import Recipe

PAPER = 'E. Hoogeboom, J. W. T. Peters, R. van den Berg, M. Welling. "Integer Discrete Flows and Lossless Compression." NeurIPS 2019. arXiv:1905.07376.'


def bpd(y_true, y_pred):
    """The loss and metric: the model's output already is each image's bits per dimension."""
    return y_pred


def _flip(image, label):
    return tf.image.random_flip_left_right(image), label


def warmup_cosine(total_steps, peak=1e-3, warmup=1000):
    """Adam with a linear warm-up to `peak` over the first `warmup` steps (at most a tenth of the run),
    then a cosine decay to 5% of it.

    The warm-up is not optional: Adam's first updates move every weight by about +-lr whatever
    its gradient, and the couplings emit translations in units of 256 lattice steps, so a cold
    start at 1e-3 throws a trained flow from 4.2 to 9.6 bits per dimension within ten steps.
    """
    warmup = min(warmup, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup, alpha=0.05, warmup_target=peak, warmup_steps=warmup
    )
    return keras.optimizers.Adam(schedule)


CIFAR10_RECIPE = Recipe(
        paper=PAPER,
    dataset="cifar10",
    epochs=42,
    batch_size=64,
    loss=bpd,
    metric="bpd",
    metrics=(bpd,),
    higher_is_better=False,
    optimizer=warmup_cosine,
    augment=_flip,
)


def idf(image_shape=(32, 32, 3), levels=3, flows_per_level=4, width=96, depth=0, mixtures=5, seed=0):
    """An Integer Discrete Flow for uint8 images of `image_shape` (see `IntegerDiscreteFlow`)."""
    return IntegerDiscreteFlow(image_shape, levels, flows_per_level, width, depth, mixtures, seed, name="idf")


@register("idf-cifar10", recipe=CIFAR10_RECIPE)
def idf_cifar10(**overrides):
    """Integer Discrete Flow, lossless model of 32x32 CIFAR-10 images (uint8 in, bits per dimension out)."""
    return idf(**{"image_shape": (32, 32, 3), "width": 128, **overrides})
