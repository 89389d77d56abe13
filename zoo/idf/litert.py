"""LiteRT signatures of an integer flow: `forward` (uint8 images -> integer latents) and `inverse`.

Registered with `zoo.export`, so `zoo export idf-cifar10 idf.tflite` (or
`zoo.export.to_litert(model, path, samples=images)`) writes both and checks
them on the samples: latents and images should equal Keras's integers, and
the report gives the share of elements that do not. LiteRT's float kernels
sum in another order than TensorFlow's, so a coupling's translation that lies
within a rounding error of n + 1/2 can round the other way, and the change
propagates through later couplings. For idf-cifar10 that is a fraction of a
percent of the latents (see docs/idf.md), so a LiteRT forward pass is not
interchangeable with the Python codec's: decode a stream with the
implementation that encoded it. `ALLOWED_MISMATCH` bounds the share an export
accepts; beyond it the export fails. The flips cluster in a few images, so
on the default 16 samples z's share can pass 1% (1.08% for the 3.96-bpd
checkpoint, 0.13% over 256 images).
"""

import tensorflow as tf

from zoo import export
from zoo.idf.model import IntegerDiscreteFlow

ALLOWED_MISMATCH = 0.02


@export.register_signatures(IntegerDiscreteFlow)
def flow_signatures(model, images):
    ys, z = model.latents(images)
    latents = [*ys, z]
    names = [f"y{i}" for i in range(len(ys))] + ["z"]

    def forward(x):
        ys, z = model.latents(x)
        return dict(zip(names, [*ys, z]))

    def inverse(*args):
        return {"images": model.inverse(list(args[:-1]), args[-1])}

    image_spec = tf.TensorSpec((None, *model.image_shape), tf.uint8, name="images")
    latent_specs = [tf.TensorSpec((None, *t.shape[1:]), tf.float32, name=n) for n, t in zip(names, latents)]
    exact = {"atol": 0.0, "rtol": 0.0, "allowed_mismatch": ALLOWED_MISMATCH}
    return {
        "forward": export.Signature(forward, [image_spec], (images,), **exact),
        "inverse": export.Signature(inverse, latent_specs, tuple(t.numpy() for t in latents), **exact),
    }
