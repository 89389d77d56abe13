"""Would context in a photo flow's priors save bits? The flow kept fixed, small nets learn a correction
to a prior from context the decoder could have, and the validation photographs' bits are compared.

Two latents of `idf-photos`: the first split prior's factored-out half (41% of the Kodak bits) and the
last latent (no context today). Two kinds of context, each a net of the flow's own shape (conv3x3 of
width 128, conv3x3) whose zero-initialised output corrects the prior's logistic parameters:
- checkerboard: half the positions (i + j odd) see the other half's values, decoded first;
- channel halves: the second half of the channels sees the first half's values at and around it.
For the split prior the nets also see the kept half, as the prior does; for the last prior the
corrected half is a logistic (the published prior is a mixture with no parameters to correct).

Only the nets train (Adam, warm-up then cosine, on the fixed latents of random crops of the training
photographs); bits are measured on the whole validation photographs. One seed: a screen, not a result.

Writes results/idf_prior_context.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_prior_context.py
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def checkerboard(z):
    """1.0 where i + j is even (decoded first), else 0.0; shape (1, H, W, 1)."""
    from keras import ops

    h, w = ops.shape(z)[1], ops.shape(z)[2]
    return ops.cast((ops.arange(h)[:, None] + ops.arange(w)[None, :]) % 2 == 0, "float32")[None, :, :, None]


class Corrected:
    """A prior plus a context net's correction; `bits(kept, z)` is the total ideal code length in bits."""

    def __init__(self, flow, latent, context):
        from zoo.idf.layers import ConvNet

        self.flow, self.latent, self.context = flow, latent, context
        self.channels = flow.split_priors[0].keep if latent == "split" else flow.prior.means.shape[0]
        outputs = self.channels if context == "channel halves" else 2 * self.channels
        self.net = None if context == "none" else ConvNet(outputs, 128, 0)

    @staticmethod
    def _logistic_bits(out, z):
        from zoo.idf.distributions import discretized_logistic_logp
        from zoo.idf.layers import SplitPrior

        return -discretized_logistic_logp(z, *SplitPrior.params_of(out)) / math.log(2.0)

    def bits(self, kept, z):
        from keras import ops

        from zoo.idf.distributions import mixture_discretized_logistic_logp
        from zoo.idf.layers import SCALE

        if self.latent == "split":
            prior_out = self.flow.split_priors[0].net(kept / SCALE)
            base, seen = self._logistic_bits(prior_out, z), [kept / SCALE]
        else:
            prior_out, seen = 0.0, []
            base = -mixture_discretized_logistic_logp(z, *self.flow.prior.params()) / math.log(2.0)
        if self.net is None:
            return ops.sum(base)
        if self.context == "checkerboard":
            first = checkerboard(z)
            out = prior_out + self.net(ops.concatenate([*seen, z * first / SCALE, first * ops.ones_like(z[..., :1])], -1))
            return ops.sum(base * first + self._logistic_bits(out, z) * (1.0 - first))
        h = self.channels // 2
        prior_second = 0.0 if self.latent == "last" else ops.concatenate(
            [prior_out[..., h : self.channels], prior_out[..., self.channels + h :]], -1)
        out = prior_second + self.net(ops.concatenate([*seen, z[..., :h] / SCALE], -1))
        return ops.sum(base[..., :h]) + ops.sum(self._logistic_bits(out, z[..., h:]))


def latents(flow, latent, images):
    """(kept, z) of each batch of uint8 images: the first split's kept half and factored-out half, or
    (None, last latent)."""
    import tensorflow as tf

    @tf.function(autograph=False, reduce_retracing=True)
    def one(x):
        if latent == "split":
            return flow.split_priors[0].partition(flow.level_forward(0, tf.cast(x, tf.float32) - 128.0))
        return flow.flow(x)[1]

    return [one(x) if latent == "split" else (None, one(x)) for x in images]


def fit(model, train, epochs, batch):
    import keras
    import tensorflow as tf

    z = tf.concat([z for _, z in train], 0)
    kept = tf.concat([k for k, _ in train], 0) if model.latent == "split" else None
    steps = epochs * (len(z) // batch)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        0.0, steps, alpha=0.05, warmup_target=1e-3, warmup_steps=min(100, steps // 10)))
    model.bits(kept[:1] if model.latent == "split" else kept, z[:1])
    weights = model.net.trainable_weights

    @tf.function
    def step(k, x):
        with tf.GradientTape() as tape:
            loss = model.bits(k, x) / tf.cast(tf.size(x), tf.float32)
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))

    for epoch in tqdm(range(epochs), desc=f"{model.latent}, {model.context}", leave=False):
        order = np.random.default_rng(epoch).permutation(len(z))
        for s in range(0, len(z) - batch + 1, batch):
            index = order[s : s + batch]
            step(tf.gather(kept, index) if model.latent == "split" else kept, tf.gather(z, index))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="idf-photos")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    import zoo
    from zoo import data

    keras.utils.set_random_seed(0)
    flow = zoo.load(args.model)
    validation = data.photo_images(data.photo_files("train", "validation"), multiple=2**flow.levels).batch(1)
    rows = []
    for latent, crop, count, batch, share in (("split", 128, 1024, 16, 0.5), ("last", 256, 768, 8, 0.5**flow.levels * 2)):
        train = latents(flow, latent, (x for x, _ in data.photo_crops(data.photo_files("train", "train"), crop, count).batch(8)))
        held = latents(flow, latent, (x for x, _ in validation))
        dims = sum(int(tf.size(z)) for _, z in held)
        published = None
        for context in ("none", "checkerboard", "channel halves"):
            model = Corrected(flow, latent, context)
            if model.net is not None:
                fit(model, train, args.epochs, batch)
            own = sum(float(model.bits(k, z)) for k, z in held) / dims
            published = own if published is None else published
            name = "first split prior" if latent == "split" else "last prior"
            rows.append([name, context, f"{own:.4f}", f"{100 * (own / published - 1):+.2f}%",
                         f"{share * (own - published):+.4f}"])
            print(rows[-1], flush=True)
    table = markdown_table(["latent", "context", "validation bits per own dimension", "change",
                            "change in bits per image dimension"], rows)
    print(table)
    write_results("idf_prior_context", f"{args.model}: context in its priors, the flow fixed, {args.epochs} epochs "
                                       "on fixed latents, validation photographs", table)


if __name__ == "__main__":
    main()
