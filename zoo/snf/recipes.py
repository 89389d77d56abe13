"""Registered Self Normalizing Flows on MNIST, each with its exact-gradient twin, and how they are trained.

Recipes follow the paper and the official code: batch 100, Adam (1e-4 for the
FC flows, 1e-3 for the convolutional ones), lambda = 1; the same recipe, epochs
and seed for an SNF flow and its twin. Loss: negative log-likelihood in nats
per image; the published metrics are `nll_nats` and `bits_per_dim`, exact on
the validation and test splits.
"""

import math

import keras

from zoo.registry import register
from zoo.snf.model import SelfNormalizingFlow
from zoo.training import Recipe

PAPER = 'T. A. Keller, J. W. T. Peters, P. Jaini, E. Hoogeboom, P. Forre, M. Welling. "Self Normalizing Flows." ICML 2021. arXiv:2011.07248.'

MNIST_DIMENSIONS = 28 * 28


def nll_nats(y_true, y_pred):
    """The loss and metric: the model's output already is each image's NLL in nats (exact at inference)."""
    return y_pred


def bits_per_dim(y_true, y_pred):
    """NLL in bits per dimension of a 28x28 image."""
    return y_pred / (MNIST_DIMENSIONS * math.log(2.0))


def _recipe(learning_rate, epochs):
    return Recipe(
        paper=PAPER,
        dataset="mnist",
        epochs=epochs,
        batch_size=100,
        loss=nll_nats,
        metric="nll_nats",
        metrics=(nll_nats, bits_per_dim),
        higher_is_better=False,
        optimizer=lambda total_steps: keras.optimizers.Adam(learning_rate),
    )


FC_RECIPE = _recipe(1e-4, epochs=30)
CONV_RECIPE = _recipe(1e-3, epochs=8)


def snf(architecture, gradient, **overrides):
    """A Self Normalizing Flow (or its exact twin) for 28x28 uint8 images (see `SelfNormalizingFlow`)."""
    name = f"{'snf' if gradient == 'selfnorm' else 'exact'}_{architecture}_mnist"
    return SelfNormalizingFlow((28, 28, 1), architecture, gradient, name=name, **overrides)


@register("snf-fc-mnist", recipe=FC_RECIPE)
def snf_fc_mnist(**overrides):
    """Self Normalizing Flow, 2 dense 784x784 layers (FC-2L) on MNIST (uint8 in, NLL in nats out)."""
    return snf("fc", "selfnorm", **overrides)


@register("exact-fc-mnist", recipe=FC_RECIPE)
def exact_fc_mnist(**overrides):
    """The exact-gradient twin of snf-fc-mnist: same flow, trained through slogdet (uint8 in, NLL in nats out)."""
    return snf("fc", "exact", **overrides)


@register("snf-conv-mnist", recipe=CONV_RECIPE)
def snf_conv_mnist(**overrides):
    """Self Normalizing Flow, 9 3x3 convolutions with spline activations (Conv-9L) on MNIST (NLL in nats out)."""
    return snf("conv", "selfnorm", **overrides)


@register("exact-conv-mnist", recipe=CONV_RECIPE)
def exact_conv_mnist(**overrides):
    """The exact-gradient twin of snf-conv-mnist: same flow, trained through Toeplitz slogdet (NLL in nats out)."""
    return snf("conv", "exact", **overrides)
