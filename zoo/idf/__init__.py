"""Integer Discrete Flows (Hoogeboom, Peters, van den Berg, Welling, NeurIPS 2019).

`layers.py` holds the integer bijections and priors, `distributions.py` the
discretized logistics, `model.py` the flow, `recipes.py` the registered models,
`tables.py` and `codec.py` the lossless image codec built on the flow.

Example:
    >>> from zoo import idf
    >>> data = idf.compress(image)                 # uint8 (H, W, C) or (N, H, W, C)
    >>> np.array_equal(idf.decompress(data), image)
    True
"""

from zoo.idf.codec import Codec, CodecError, compress, decompress
from zoo.idf.distributions import discretized_logistic_logp, mixture_discretized_logistic_logp
from zoo.idf.layers import (
    ChannelPermutation,
    ConvNet,
    IntegerCoupling,
    MixturePrior,
    SplitPrior,
    Squeeze,
    ThinConv2D,
    round_straight_through,
)
from zoo.idf.model import IntegerDiscreteFlow
from zoo.idf import litert  # noqa: F401  (registers the LiteRT signatures)
from zoo.idf.recipes import idf, idf_cifar10

__all__ = [
    "ChannelPermutation",
    "Codec",
    "CodecError",
    "ConvNet",
    "IntegerCoupling",
    "IntegerDiscreteFlow",
    "MixturePrior",
    "SplitPrior",
    "Squeeze",
    "ThinConv2D",
    "compress",
    "decompress",
    "discretized_logistic_logp",
    "idf",
    "idf_cifar10",
    "mixture_discretized_logistic_logp",
    "round_straight_through",
]
