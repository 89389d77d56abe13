"""Self Normalizing Flows (Keller, Peters, Jaini, Hoogeboom, Forre, Welling, ICML 2021).

`gradients.py` holds the SNF gradient (TensorFlow custom gradients),
`layers.py` the flow layers (`SelfNormDense`, `SelfNormConv2D`, their exact
twins, activations, squeeze), `spline.py` the rational-quadratic spline,
`model.py` the flow on images, `recipes.py` the registered MNIST models.

Example:
    >>> import zoo
    >>> flow = zoo.load("snf-fc-mnist")
    >>> nats = -flow.log_prob(images_uint8)          # exact NLL per image
    >>> samples = flow.sample(16, inverse="learned")
"""

from zoo.snf.layers import (
    ExactConv2D,
    ExactDense,
    SelfNormConv2D,
    SelfNormDense,
    SmoothLeakyReLU,
    SplineActivation,
    Squeeze,
    conv_matrix,
)
from zoo.snf.model import SelfNormalizingFlow
from zoo.snf import litert  # noqa: F401  (registers the LiteRT signatures)
from zoo.snf.recipes import exact_conv_mnist, exact_fc_mnist, snf, snf_conv_mnist, snf_fc_mnist

__all__ = [
    "ExactConv2D",
    "ExactDense",
    "SelfNormConv2D",
    "SelfNormDense",
    "SelfNormalizingFlow",
    "SmoothLeakyReLU",
    "SplineActivation",
    "Squeeze",
    "conv_matrix",
    "exact_conv_mnist",
    "exact_fc_mnist",
    "snf",
    "snf_conv_mnist",
    "snf_fc_mnist",
]
