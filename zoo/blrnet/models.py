"""VGG-style classifiers in three kinds, one architecture: the probabilistic binary network (PBNet), its
full-precision twin (FPNet) and the straight-through binary network (BNN).

A network is `blocks` of "same" 3x3 convolutions, each block ending in a 2x2
max pool, then `hidden` dense layers and the output layer; every layer is
followed by batch normalization, every hidden one by the activation. Images
(uint8) enter as x / 127.5 - 1, a real input to the first layer (whose weights
are binary too in PBNet and BNN). The output is class probabilities, from a
softmax or a per-class sigmoid head (`heads.py`).

| kind | weights | activations | layer block |
|---|---|---|---|
| pbnet | random, in {-1, +1}, E = theta | binary (propagated or sampled) | conv -> (pool) -> SBN -> binarize |
| fp | real | hard tanh | conv -> (pool) -> BN -> hard tanh |
| ste | sign(latent) | sign, straight-through | conv -> (pool) -> BN -> sign |

Example:
    >>> model = binary_vgg("pbnet", (28, 28, 1), 10, blocks=((32, 32), (64, 64)), hidden=(256,))
    >>> probs = model.predict(images_uint8)
"""

import keras

from zoo.blrnet.baselines import BinaryConv2D, BinaryDense, SignSTE
from zoo.blrnet.heads import output_layer
from zoo.blrnet.layers import (
    Mean,
    StochasticBatchNormalization,
    StochasticBinarization,
    StochasticBinaryConv2D,
    StochasticBinaryDense,
    StochasticMaxPooling2D,
    WeightVariance,
)

KINDS = ("pbnet", "fp", "ste")


def _layers(blocks, hidden, num_classes):
    """(kind of layer, width, pooled after, is the output) for every layer, in order."""
    plan = []
    for block in blocks:
        for i, width in enumerate(block):
            plan.append(("conv", width, i == len(block) - 1, False))
    plan += [("dense", width, False, False) for width in hidden]
    plan.append(("dense", num_classes, False, True))
    return plan


def binary_vgg(kind, input_shape, num_classes, blocks, hidden, binarize="sample", weight_variance=0.0, head="softmax",
               name=None):
    """The network of `kind` ("pbnet", "fp" or "ste"); `binarize` ("sample" = PBNet-S or "propagate") is
    PBNet's activation; `weight_variance` > 0 adds PBNet's penalty `WeightVariance(weight_variance)` on every
    binary layer's theta (annealing towards the MAP network); `head` is "softmax" (cross-entropy) or
    "sigmoid" (the paper's per-class binary cross-entropy; see `zoo.blrnet.heads`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if weight_variance and kind != "pbnet":
        raise ValueError(f"weight_variance penalizes PBNet's theta; a {kind!r} network has none")
    probabilities = output_layer(head)  # checks `head` before anything is built
    regularizer = WeightVariance(weight_variance) if weight_variance else None
    images = keras.Input(input_shape, dtype="uint8", name="images")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(images)
    first = True
    for index, (layer, width, pooled, output) in enumerate(_layers(blocks, hidden, num_classes)):
        if layer == "dense" and len(x.shape) > 2:
            x = keras.layers.Flatten(name="flatten")(x)
        n = f"{layer}{index}"
        if kind == "pbnet":
            input_kind = "real" if first else "binary"
            make = StochasticBinaryConv2D if layer == "conv" else StochasticBinaryDense
            moments = make(width, input_kind=input_kind, theta_regularizer=regularizer, name=n)(x)
            if pooled:
                moments = StochasticMaxPooling2D(name=f"pool{index}")(moments)
            moments = StochasticBatchNormalization(name=f"bn{index}")(moments)
            x = Mean(name="logits")(moments) if output else StochasticBinarization(binarize, name=f"act{index}")(moments)
        else:
            if kind == "fp":
                x = (keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=n) if layer == "conv"
                     else keras.layers.Dense(width, use_bias=False, name=n))(x)
            else:
                x = (BinaryConv2D(width, 3, name=n) if layer == "conv" else BinaryDense(width, name=n))(x)
            if pooled:
                x = keras.layers.MaxPooling2D(name=f"pool{index}")(x)
            x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-4, name=f"bn{index}")(x)
            if not output:
                act = keras.layers.Activation("hard_tanh", name=f"act{index}") if kind == "fp" else SignSTE(name=f"act{index}")
                x = act(x)
        first = False
    probs = probabilities(x)
    return keras.Model(images, probs, name=name or f"{kind}_vgg")
