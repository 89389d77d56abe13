"""Pre-activation ResNet classifiers in four variants at one parameter budget: z2, hex, p6, p6m.

Every model takes square uint8 images (B, H, W, 3) and returns class
probabilities; scaling to [-1, 1] and (for the lattice variants) resampling
onto a hexagon of `radius` cells happen inside. The lattice variants run a
sub-model `hex_classifier` on the hexagonal map, pool over the group axis and
over the hexagon, so p6 / p6m logits are invariant to `rotate60` (and p6m to
`mirror`) of that map.

Widths are scaled per variant so that the free parameters (the hexagonal taps
only) match the z2 model's, up to the rounding of widths (within 10%, never
more than 2% above z2): a p6 filter has 6 x 7 taps per input channel where z2
has 9, so p6 layers are sqrt(9 / 42) as wide. At equal parameters a p6 layer
does 6 times the multiply-adds of a z2 layer (p6m: 12 times), since each
parameter is applied once per group element.

Example:
    >>> model = hexaconv_resnet("p6m", num_classes=30, image_size=64, radius=32)
"""

import math

import keras
import numpy as np
from keras import ops

from zoo.hexaconv.layers import (
    GroupPooling,
    HexBatchNormalization,
    HexConv2D,
    HexMaxPooling,
    P6GroupConv,
    P6MGroupConv,
    support_mask,
)
from zoo.hexaconv.resample import SquareToHex

VARIANTS = {  # conv layer, taps per filter and input channel (kernel 3), group order
    "z2": (None, 9, 1),
    "hex": (HexConv2D, 7, 1),
    "p6": (P6GroupConv, 7 * 6, 6),
    "p6m": (P6MGroupConv, 7 * 12, 12),
}


@keras.saving.register_keras_serializable(package="zoo.hexaconv")
class HexGlobalAveragePooling(keras.layers.Layer):
    """Mean over the hexagonal support's cells: (B, R, C, ch) -> (B, ch)."""

    def call(self, x):
        rows, cols = x.shape[1], x.shape[2]
        mask = support_mask(rows, cols).astype("float32")
        weights = ops.convert_to_tensor((mask / mask.sum())[None, :, :, None], x.dtype)
        return ops.sum(x * weights, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def variant_width(variant, base_width):
    """The width that gives `variant` the free parameters of a z2 layer of `base_width`."""
    return max(1, round(base_width * math.sqrt(VARIANTS["z2"][1] / VARIANTS[variant][1])))


def hexaconv_resnet(variant, num_classes, image_size, radius, widths=(16, 32, 64), blocks=1, name=None):
    """A pre-activation ResNet classifier of square uint8 images; see the module docstring.

    Each of the `len(widths)` stages halves the resolution first, so `image_size`
    and `radius` must be divisible by 2 ** len(widths).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if image_size % 2 ** len(widths) or radius % 2 ** len(widths):
        raise ValueError(f"image_size {image_size} and radius {radius} must be divisible by 2 ** {len(widths)}")
    images = keras.Input((image_size, image_size, 3), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(images)
    widths = [variant_width(variant, w) for w in widths]
    if variant == "z2":
        features = _body(x, variant, widths, blocks, num_classes)
        probs = keras.layers.Dense(num_classes, activation="softmax", name="head")(features)
        return keras.Model(images, probs, name=name or f"hexaconv_{variant}")
    hexes = SquareToHex(radius, name="to_hex")(x)
    size = 2 * radius + 1
    hex_in = keras.Input((size, size, 3), name="hex_images")
    logits = keras.layers.Dense(num_classes, name="head")(_body(hex_in, variant, widths, blocks, num_classes))
    classifier = keras.Model(hex_in, logits, name="hex_classifier")
    probs = keras.layers.Softmax(name="probs")(classifier(hexes))
    return keras.Model(images, probs, name=name or f"hexaconv_{variant}")


def _body(x, variant, widths, blocks, num_classes):
    conv_cls, _, order = VARIANTS[variant]

    def conv(width, kernel_size=3, name=None):
        if conv_cls is None:
            return keras.layers.Conv2D(width, kernel_size, padding="same", kernel_initializer="he_normal", name=name)
        return conv_cls(width, kernel_size, name=name)

    def norm(name):
        return keras.layers.BatchNormalization(name=name) if conv_cls is None else HexBatchNormalization(name=name)

    def pool(name):
        return keras.layers.MaxPooling2D(name=name) if conv_cls is None else HexMaxPooling(name=name)

    h = conv(widths[0], name="stem")(x)
    for stage, width in enumerate(widths):
        h = pool(f"pool{stage}")(h)  # every stage starts at half the resolution of the one before
        for block in range(blocks):
            prefix = f"s{stage}b{block}"
            r = keras.layers.ReLU(name=f"{prefix}_relu1")(norm(f"{prefix}_bn1")(h))
            shortcut = h if h.shape[-1] == width else conv(width, 1, name=f"{prefix}_proj")(r)
            r = conv(width, name=f"{prefix}_conv1")(r)
            r = keras.layers.ReLU(name=f"{prefix}_relu2")(norm(f"{prefix}_bn2")(r))
            r = conv(width, name=f"{prefix}_conv2")(r)
            h = keras.layers.Add(name=f"{prefix}_add")([shortcut, r])
    h = keras.layers.ReLU(name="final_relu")(norm("final_bn")(h))
    if conv_cls is None:
        return keras.layers.GlobalAveragePooling2D(name="gap")(h)
    if order > 1:
        h = GroupPooling("mean", name="group_pool")(h)
    return HexGlobalAveragePooling(name="gap")(h)


def free_parameters(model):
    """Trainable parameters, counting only the hexagonal taps of hexagonal kernels."""
    total = 0
    for layer in _all_layers(model):
        for w in layer.trainable_weights:
            n = int(np.prod(w.shape))
            if w.name == "kernel" and hasattr(layer, "_taps"):
                n = n // (layer.kernel_size**2) * int(layer._taps.sum())
            total += n
    return total


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def with_new_head(model, num_classes):
    """The same network with a fresh classification head for `num_classes` (for fine-tuning).

    The body's layers (and so its trained weights) are shared with `model`.

    Example:
        >>> base = zoo.load("hexaconv-p6-aid")
        >>> model = with_new_head(base, num_classes=5)
        >>> model.compile("adam", "sparse_categorical_crossentropy"); model.fit(images, labels)
    """
    head = keras.layers.Dense(num_classes, name="head")
    images = keras.Input(model.input_shape[1:], dtype=model.inputs[0].dtype, name="images")
    x = model.get_layer("scale")(images)
    if "hex_classifier" not in [layer.name for layer in model.layers]:
        features = keras.Model(model.input, model.get_layer("gap").output)(images)
        probs = keras.layers.Softmax(name="probs")(head(features))
        return keras.Model(images, probs, name=f"{model.name}_{num_classes}")
    classifier = model.get_layer("hex_classifier")
    body = keras.Model(classifier.input, classifier.get_layer("gap").output, name="hex_body")
    hex_in = keras.Input(classifier.input_shape[1:], name="hex_images")
    new_classifier = keras.Model(hex_in, head(body(hex_in)), name="hex_classifier")
    probs = keras.layers.Softmax(name="probs")(new_classifier(model.get_layer("to_hex")(x)))
    return keras.Model(images, probs, name=f"{model.name}_{num_classes}")
