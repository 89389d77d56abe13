"""Probabilistic binary networks (Peters & Welling 2018; BLRNet, PBNet).

`layers.py` holds the stochastic binary layers that carry (mean, variance),
`baselines.py` the straight-through binary layers of the BNN baseline,
`models.py` the VGG-style networks of all three kinds, `heads.py` their
softmax or per-class sigmoid outputs and losses, `deploy.py` the binary
networks (MAP, ternary, sampled) and ensembles made from a trained PBNet,
`recipes.py` the registered models.

Example:
    >>> from zoo import blrnet
    >>> model = zoo.load("blrnet-mnist")
    >>> binary = blrnet.to_binary(model, mode="map", data=train_images)   # +-1 kernels, thresholds
"""

from zoo.blrnet.baselines import BinaryConv2D, BinaryDense, SignSTE
from zoo.blrnet.deploy import (
    Sign,
    Step,
    WithComplement,
    binary_weights,
    ensemble,
    members,
    predictive_uncertainty,
    reestimate_batch_norm,
    to_binary,
    zero_one_form,
)
from zoo.blrnet.heads import SigmoidProbabilities, per_class_bce, training_head
from zoo.blrnet.layers import (
    ClipTheta,
    Mean,
    StochasticBatchNormalization,
    StochasticBinarization,
    StochasticBinaryConv2D,
    StochasticBinaryDense,
    StochasticMaxPooling2D,
    WeightVariance,
)
from zoo.blrnet.models import binary_vgg
from zoo.blrnet import recipes  # noqa: F401  (registers the models)

__all__ = [
    "BinaryConv2D",
    "BinaryDense",
    "ClipTheta",
    "Mean",
    "Sign",
    "SigmoidProbabilities",
    "SignSTE",
    "Step",
    "StochasticBatchNormalization",
    "StochasticBinarization",
    "StochasticBinaryConv2D",
    "StochasticBinaryDense",
    "StochasticMaxPooling2D",
    "WeightVariance",
    "WithComplement",
    "binary_vgg",
    "binary_weights",
    "ensemble",
    "members",
    "per_class_bce",
    "predictive_uncertainty",
    "reestimate_batch_norm",
    "to_binary",
    "training_head",
    "zero_one_form",
]
