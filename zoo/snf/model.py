"""A Self Normalizing Flow on uint8 images: exact log-likelihood in nats, sampling through R or W^-1.

Pre-processing, every log-det counted: uniform dequantization (x + u,
u ~ U[0, 1)), /256, y = alpha + (1 - 2 alpha) x, logit. Then the flow layers
and a standard normal prior. `architecture="fc"`: flatten, then
`SelfNormDense(D)`, smooth leaky ReLU, `SelfNormDense(D)` (the paper's FC-2L);
`"conv"`: 3 blocks of 3 `SelfNormConv2D` 3x3 with spline activations between,
a squeeze between blocks (Conv-9L). `gradient="exact"` builds the exact twin
(`ExactDense` / `ExactConv2D`).

`call(images, training)` returns each image's negative log-likelihood in nats:
the loss. In training the SNF layers' log-dets are left out of its value (their
gradient is there): the training loss is not the NLL. At inference it is exact.

Example:
    >>> import zoo
    >>> flow = zoo.load("snf-fc-mnist")
    >>> flow.log_prob(images_uint8)                 # (N,) exact log-likelihood, nats per image
    >>> flow.sample(16, inverse="exact", seed=0)    # (16, 28, 28, 1) uint8
"""

import functools
import math

import keras
from keras import ops

from zoo.snf.layers import (
    reconstruction_share,
    ExactConv2D,
    ExactDense,
    SelfNormConv2D,
    SelfNormDense,
    SmoothLeakyReLU,
    SplineActivation,
    Squeeze,
)

ARCHITECTURES = ("fc", "conv")
GRADIENTS = ("selfnorm", "exact")


@keras.saving.register_keras_serializable(package="zoo.snf")
class SelfNormalizingFlow(keras.Model):
    """`call(images)` -> NLL in nats per image; `log_prob`, `sample`, `forward`, `inverse`.

    `reconstruction_weight` is lambda of the loss lambda * ||x - R W x||^2
    added for every SNF layer in training; `reconstruction_trains` is "both"
    (its gradient trains W and R, as the official default), "inverse" (R
    only) or a number s in [0, 1] (W gets the share s of its gradient; see
    `SelfNormDense.reconstruction_error`); `inverse_lr_multiplier`
    makes Adam move every R that many times faster than W (see
    `SelfNormDense`). `recon_<i>` metrics log each SNF layer's mean
    ||x - R W x||.
    """

    def __init__(self, image_shape=(28, 28, 1), architecture="fc", gradient="selfnorm", alpha=1e-6,
                 slr_alpha=0.3, blocks=3, layers_per_block=3, spline_bins=5, spline_bound=10.0,
                 reconstruction_weight=1.0, reconstruction_trains="both", inverse_lr_multiplier=1.0, eval_seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
        reconstruction_share(reconstruction_trains)  # raises on anything else
        h, w, _ = image_shape
        if architecture == "conv" and (h % 2 ** (blocks - 1) or w % 2 ** (blocks - 1)):
            raise ValueError(f"image sides {h}x{w} must be divisible by 2**(blocks - 1) = {2 ** (blocks - 1)}")
        self.image_shape, self.architecture, self.gradient = tuple(image_shape), architecture, gradient
        self.alpha, self.slr_alpha, self.blocks, self.layers_per_block = alpha, slr_alpha, blocks, layers_per_block
        self.spline_bins, self.spline_bound = spline_bins, spline_bound
        self.reconstruction_weight, self.reconstruction_trains = reconstruction_weight, reconstruction_trains
        self.inverse_lr_multiplier = inverse_lr_multiplier
        self.eval_seed = eval_seed
        self.dimensions = math.prod(image_shape)
        self.noise = keras.random.SeedGenerator(eval_seed)
        self.flow_layers = self._make_layers()
        self.recon_trackers = [
            keras.metrics.Mean(name=f"recon_{i}") for i, layer in enumerate(self.flow_layers)
            if getattr(layer, "learned_inverse", False)
        ]
        self.build()

    def _make_layers(self):
        if self.gradient == "selfnorm":
            dense = functools.partial(SelfNormDense, inverse_lr_multiplier=self.inverse_lr_multiplier)
            conv = functools.partial(SelfNormConv2D, inverse_lr_multiplier=self.inverse_lr_multiplier)
        else:
            dense, conv = ExactDense, ExactConv2D
        if self.architecture == "fc":
            return [dense(name="dense0"), SmoothLeakyReLU(self.slr_alpha, name="act0"), dense(name="dense1")]
        layers = []
        for b in range(self.blocks):
            for i in range(self.layers_per_block):
                layers.append(conv(name=f"conv{b}_{i}"))
                if not (b == self.blocks - 1 and i == self.layers_per_block - 1):
                    layers.append(SplineActivation(self.spline_bins, self.spline_bound, name=f"spline{b}_{i}"))
            if b < self.blocks - 1:
                layers.append(Squeeze(name=f"squeeze{b}"))
        return layers

    def build(self, input_shape=None):
        if not self.built:
            self.call(ops.zeros((1, *self.image_shape), "uint8"))
            self.built = True

    # pre-processing: uint8 -> logit space, with its log-det
    def _dequantize(self, images, training, seed):
        x = ops.cast(images, "float32")
        if training:
            return x + keras.random.uniform(ops.shape(x), seed=self.noise)
        return x + keras.random.uniform(ops.shape(x), seed=self.eval_seed if seed is None else seed)

    def _to_logit(self, x):
        y = self.alpha + (1 - 2 * self.alpha) * x / 256.0
        log_det = self.dimensions * (math.log(1 - 2 * self.alpha) - math.log(256.0))
        log_det = log_det + ops.sum(ops.reshape(-ops.log(y) - ops.log1p(-y), (ops.shape(x)[0], -1)), axis=-1)
        return ops.log(y) - ops.log1p(-y), log_det

    def _from_logit(self, z):
        return (ops.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha) * 256.0

    def linear_layers(self):
        """The flow's dense or convolutional layers, in order."""
        return [layer for layer in self.flow_layers if hasattr(layer, "kernel")]

    def forward(self, x, training=False, linear_log_dets=None):
        """(latent, log-det per image) of dequantized images `x` (floats in [0, 256)).

        `linear_log_dets`: precomputed log|det| of each of `linear_layers()`,
        used instead of computing them (an exported graph holds them as constants).
        """
        z, log_det = self._to_logit(x)
        if self.architecture == "fc":
            z = ops.reshape(z, (-1, self.dimensions))
        tracker = iter(self.recon_trackers)
        constants = iter(linear_log_dets) if linear_log_dets is not None else None
        for layer in self.flow_layers:
            x = z
            if constants is not None and hasattr(layer, "kernel"):
                z, layer_log_det = layer.transform(x), next(constants)
            else:
                z, layer_log_det = layer(x, training=training)
            log_det = log_det + layer_log_det
            if getattr(layer, "learned_inverse", False) and constants is None:
                error = layer.reconstruction_error(x, self.reconstruction_trains)
                next(tracker).update_state(ops.sqrt(error))
                if training:
                    self.add_loss(self.reconstruction_weight * ops.mean(error))
        return z, log_det

    def call(self, images, training=False):
        z, log_det = self.forward(self._dequantize(images, training, None), training=training)
        return -(self.prior_log_prob(z) + log_det)

    def prior_log_prob(self, z):
        """log N(z; 0, I) of each latent, in nats."""
        return -0.5 * ops.sum(ops.reshape(z, (ops.shape(z)[0], -1)) ** 2, axis=-1) - 0.5 * self.dimensions * math.log(
            2 * math.pi
        )

    def log_prob(self, images, seed=None, batch_size=500):
        """Exact log-likelihood in nats of each uint8 image (N, H, W, C), dequantization noise from `seed`
        (default: the model's `eval_seed`), as a NumPy array."""
        import numpy as np

        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != self.image_shape:
            raise ValueError(f"log_prob takes uint8 images of shape (N, {', '.join(map(str, self.image_shape))}); "
                             f"got {images.dtype} {images.shape}")
        out = []
        for start in range(0, len(images), batch_size):
            x = self._dequantize(images[start:start + batch_size], False, seed)
            z, log_det = self.forward(x)
            out.append(ops.convert_to_numpy(self.prior_log_prob(z) + log_det))
        return np.concatenate(out)

    def inverse(self, z, inverse="exact", inverse_matrices=None):
        """Dequantized images (floats in [0, 256)) of latents `z`, through W^-1 ("exact") or R ("learned").

        `inverse_matrices`: precomputed inverses of each of `linear_layers()`'
        matrices, used instead of solving (an exported graph holds them as constants).
        """
        if inverse not in ("exact", "learned"):
            raise ValueError(f"inverse must be 'exact' or 'learned', got {inverse!r}")
        if inverse == "learned" and self.gradient == "exact":
            raise ValueError("an exact-gradient flow has no learned inverse; use inverse='exact'")
        matrices = dict(zip([layer.name for layer in self.linear_layers()], inverse_matrices or []))
        for layer in reversed(self.flow_layers):
            if layer.name in matrices:
                z = layer.inverse_with(z, matrices[layer.name])
            else:
                z = layer.inverse(z, exact=inverse == "exact")
        return self._from_logit(ops.reshape(z, (-1, *self.image_shape)))

    def latent_shape(self):
        if self.architecture == "fc":
            return (self.dimensions,)
        h, w, c = self.image_shape
        s = 2 ** (self.blocks - 1)
        return (h // s, w // s, c * s * s)

    def sample(self, n, inverse="learned", seed=0, temperature=1.0):
        """`n` uint8 images drawn from the flow: z ~ N(0, temperature^2 I), then `inverse(z)` floored."""
        z = temperature * keras.random.normal((n, *self.latent_shape()), seed=seed)
        x = self.inverse(z, inverse)
        return ops.convert_to_numpy(ops.cast(ops.clip(ops.floor(x), 0, 255), "uint8"))

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "architecture": self.architecture,
            "gradient": self.gradient,
            "alpha": self.alpha,
            "slr_alpha": self.slr_alpha,
            "blocks": self.blocks,
            "layers_per_block": self.layers_per_block,
            "spline_bins": self.spline_bins,
            "spline_bound": self.spline_bound,
            "reconstruction_weight": self.reconstruction_weight,
            "reconstruction_trains": self.reconstruction_trains,
            "inverse_lr_multiplier": self.inverse_lr_multiplier,
            "eval_seed": self.eval_seed,
        }
