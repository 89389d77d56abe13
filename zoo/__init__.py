"""zoo: Keras 3 models with pretrained, pinned weights.

Example:
    >>> import zoo
    >>> zoo.list_models()
    ['cnn-small-mnist', ...]
    >>> model = zoo.load("cnn-small-mnist")
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from zoo.loading import load  # noqa: E402
from zoo.registry import info, list_models, register  # noqa: E402

from zoo import blrnet, cnn, hexaconv, idf, snf  # noqa: E402,F401  (registers their models)

__version__ = "0.1.0"
__all__ = ["info", "list_models", "load", "register", "__version__"]
