"""A plain convolutional classifier for 28x28 grayscale digits.

Example:
    >>> import zoo
    >>> model = zoo.load("cnn-small-mnist")
    >>> probs = model.predict(images_uint8)   # (N, 28, 28, 1) uint8 -> (N, 10)
"""

import keras

from zoo.registry import register
from zoo.training import Recipe

MNIST_RECIPE = Recipe(
    dataset="mnist",
    epochs=6,
    batch_size=128,
    loss="sparse_categorical_crossentropy",
    metric="accuracy",
)


@register("cnn-small-mnist", recipe=MNIST_RECIPE)
def cnn_small_mnist(num_classes=10, width=32, dropout=0.25):
    """Two conv blocks and a linear head on MNIST digits (uint8 in, class probabilities out)."""
    images = keras.Input((28, 28, 1), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(images)
    for i, filters in enumerate((width, 2 * width)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(images, probs, name="cnn_small_mnist")
