"""The zoo's smallest model: a plain CNN on MNIST, the end-to-end example of the pipeline."""

from zoo.cnn.model import cnn_small_mnist

__all__ = ["cnn_small_mnist"]
