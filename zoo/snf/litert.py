"""LiteRT signatures of a Self Normalizing Flow: `log_prob` (exact density) and `sample` (exact inverse).

Once training is over the log-determinants of the linear layers are constants
and so are their inverses: both are computed here in float64 and put in the
graph, so the exported file needs no determinant or solver op, only builtin
ones (matmuls, convolutions, elementwise maths).

* `log_prob(images uint8, noise float32 in [0, 1))` -> `log_prob` in nats per
  image, the dequantization noise given by the caller (Keras's `log_prob`
  draws it from a seed);
* `sample(z float32, the latent)` -> `images`, the dequantized images (floats
  in [0, 256); floor them for pixels) of latents z ~ N(0, I) through the exact
  inverse.

Example:
    $ zoo export snf-fc-mnist snf.tflite            # both signatures, checked against Keras on test images
"""

import numpy as np
import tensorflow as tf

from zoo import export
from zoo.snf.model import SelfNormalizingFlow


def constants(model):
    """(log|det| of each linear layer, inverse of each linear layer's matrix), in float64 then float32."""
    log_dets, inverses = [], []
    for layer in model.linear_layers():
        matrix = np.asarray(layer.matrix(), dtype="float64")
        log_dets.append(np.float32(np.linalg.slogdet(matrix)[1]))
        inverses.append(np.linalg.inv(matrix).astype("float32"))
    return log_dets, inverses


@export.register_signatures(SelfNormalizingFlow)
def flow_signatures(model, images):
    log_dets, inverses = constants(model)
    log_dets = [tf.constant(v) for v in log_dets]
    inverses = [tf.constant(m) for m in inverses]
    noise = np.random.default_rng(0).uniform(0, 1, images.shape).astype("float32")

    def log_prob(images, noise):
        x = tf.cast(images, tf.float32) + noise
        z, log_det = model.forward(x, linear_log_dets=log_dets)
        return {"log_prob": model.prior_log_prob(z) + log_det}

    def sample(z):
        return {"images": model.inverse(z, "exact", inverse_matrices=inverses)}

    z, _ = model.forward(images.astype("float32") + noise)
    image_spec = tf.TensorSpec((None, *model.image_shape), tf.uint8, name="images")
    noise_spec = tf.TensorSpec((None, *model.image_shape), tf.float32, name="noise")
    latent_spec = tf.TensorSpec((None, *model.latent_shape()), tf.float32, name="z")
    return {
        # log-likelihoods are ~ -1000 nats: agreement to 1e-4 relative is a few hundredths of a nat
        "log_prob": export.Signature(log_prob, [image_spec, noise_spec], (images, noise), atol=0.05, rtol=1e-4),
        "sample": export.Signature(sample, [latent_spec], (np.asarray(z),), atol=0.02, rtol=1e-3),
    }
