"""Registered HexaConv classifiers and how each is trained.

Within a data set every variant shares one recipe: the same epochs, batch,
optimizer schedule, augmentation (random translations by up to 4 pixels,
edge-reflected; no flips or rotations, which would hand the z2 model part of
the symmetry the group models have built in) and seed.
"""

import keras
import tensorflow as tf

from zoo.hexaconv.models import hexaconv_resnet
from zoo.registry import register
from zoo.training import Recipe

PAPER = 'E. Hoogeboom, J. W. T. Peters, T. S. Cohen, M. Welling. "HexaConv." ICLR 2018. arXiv:1803.02108.'


def _translate(size):
    def augment(image, label):
        padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]], mode="REFLECT")
        return tf.image.random_crop(padded, (size, size, 3)), label

    return augment


def _recipe(dataset, size, epochs, batch_size):
    return Recipe(
        paper=PAPER,
        dataset=dataset,
        epochs=epochs,
        batch_size=batch_size,
        loss="sparse_categorical_crossentropy",
        metric="accuracy",
        optimizer=lambda steps: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02)),
        augment=_translate(size),
    )


AID_RECIPE = _recipe("aid64", 64, epochs=20, batch_size=32)
CIFAR10_RECIPE = _recipe("cifar10", 32, epochs=10, batch_size=64)

_DESCRIPTIONS = {
    "z2": "square convolutions on the square image (the baseline)",
    "hex": "planar hexagonal convolutions on the image resampled to a hexagon",
    "p6": "p6 group convolutions (6 rotations), invariant to lattice rotations",
    "p6m": "p6m group convolutions (rotations and mirrors), invariant to both",
}


def _register(variant, dataset, short, recipe, num_classes, size, radius):
    def build(**overrides):
        kwargs = {"num_classes": num_classes, "image_size": size, "radius": radius, **overrides}
        return hexaconv_resnet(variant, name=f"hexaconv_{variant}_{dataset}", **kwargs)

    build.__doc__ = f"Pre-activation ResNet, {_DESCRIPTIONS[variant]}; {dataset} ({num_classes} classes)."
    register(f"hexaconv-{variant}-{short}", recipe=recipe)(build)


for _variant in ("z2", "hex", "p6", "p6m"):
    _register(_variant, "aid64", "aid", AID_RECIPE, num_classes=30, size=64, radius=32)
    _register(_variant, "cifar10", "cifar10", CIFAR10_RECIPE, num_classes=10, size=32, radius=16)
