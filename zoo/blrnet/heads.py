"""Output heads of the binary networks, and the loss each is trained with.

"softmax" (the default): probabilities softmax(logits), trained with cross-entropy.
"sigmoid": the paper's per-class binary cross-entropy, with which its best CIFAR-10
network was trained: class c is its own yes/no question with probability
sigmoid(logit_c), and the loss sums the binary cross-entropy of every class
against the one-hot label. Users still get one distribution over the classes:
the head outputs the sigmoids normalized to sum to one (argmax unchanged), so
ensembles, entropies and exports treat both heads alike. The loss needs the
logits, which the normalized output no longer determines, so `training_head`
gives the harness a model that shares every weight and outputs the logits.

Example:
    >>> model = binary_vgg("pbnet", (32, 32, 3), 10, blocks=((32, 32),), hidden=(64,), head="sigmoid")
    >>> fitted, loss = training_head(model)   # outputs the logits; loss = per_class_bce
"""

import keras
from keras import ops

HEADS = ("softmax", "sigmoid")


@keras.saving.register_keras_serializable(package="zoo.blrnet")
class SigmoidProbabilities(keras.layers.Layer):
    """Logits -> sigmoid(logits) / sum(sigmoid(logits)): the per-class sigmoid head's class probabilities."""

    def call(self, logits):
        sigmoids = ops.sigmoid(logits)
        return sigmoids / ops.sum(sigmoids, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="zoo.blrnet")
def per_class_bce(labels, logits):
    """Sum over classes of the binary cross-entropy of sigmoid(logits) against the one-hot `labels`."""
    logits = ops.convert_to_tensor(logits)
    targets = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), ops.shape(logits)[-1], dtype=logits.dtype)
    # -[t log s(l) + (1 - t) log(1 - s(l))] = softplus(l) - t l, stable for any l
    return ops.sum(ops.softplus(logits) - targets * logits, axis=-1)


def output_layer(head, name="probs"):
    """The layer that turns logits into class probabilities for `head` ("softmax" or "sigmoid")."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    return keras.layers.Activation("softmax", name=name) if head == "softmax" else SigmoidProbabilities(name=name)


def training_head(model):
    """(model to fit, its loss): the model itself with cross-entropy for a softmax head; for a sigmoid
    head a model that shares every weight and outputs the logits, with `per_class_bce`."""
    head = model.layers[-1]
    if isinstance(head, SigmoidProbabilities):
        return keras.Model(model.input, head.input, name=f"{model.name}_logits"), per_class_bce
    return model, "sparse_categorical_crossentropy"
