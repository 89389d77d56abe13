"""zoo: Keras 3 models with pretrained, pinned weights.

Importing `zoo` is cheap: TensorFlow and the models' subpackages load on first
use of `zoo.load`, `zoo.list_models`, `zoo.info` or a subpackage.

Example:
    >>> import zoo
    >>> zoo.list_models()
    ['blrnet-cifar10', ...]
    >>> model = zoo.load("cnn-small-mnist")
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
__all__ = ["info", "list_models", "load", "register", "__version__"]

PAPERS = ("blrnet", "cnn", "hexaconv", "idf", "snf")  # subpackages that register models
_API = {"load": "zoo.loading", "info": "zoo.registry", "list_models": "zoo.registry", "register": "zoo.registry"}


def register_all():
    """Import every paper's subpackage, which registers its models."""
    for name in PAPERS:
        importlib.import_module(f"zoo.{name}")


def __getattr__(name):
    if name in _API:
        register_all()
        return getattr(importlib.import_module(_API[name]), name)
    try:  # a submodule, imported on first use: zoo.registry, zoo.export, zoo.idf ...
        module = importlib.import_module(f"zoo.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"zoo.{name}":
            raise
        raise AttributeError(f"module 'zoo' has no attribute {name!r}") from None
    return module  # registry.spec and list_models import the papers' subpackages when first asked
