"""The Integer Discrete Flow: uint8 images <-> integer latents, with exact bits per dimension.

Per level: squeeze, then `flows_per_level` x [channel permutation, integer
coupling] (one number for every level, or a list of one per level, like the
networks' `width` and `depth`); between levels a split prior factors out half
the channels; the last latent gets a learned mixture of discretized
logistics. Three options of
IDF++ (van den Berg et al., ICLR 2021, arXiv:2006.12459): `undo_permutations`
applies each permutation's inverse after its coupling, so every level ends in
the channel order its squeeze made and the split priors factor out the same
half of each 2x2 patch; `rezero` starts each coupling as the identity through
a learned gain at 0 instead of a zero last convolution; `norm_groups` puts a
group normalization after every hidden convolution of the networks. The flow is a
bijection on integers, so -log2 P(x) is exactly the priors' -log2 P of the
latents. With `fully_convolutional=True` the last prior is one mixture per
channel, shared by every position, and nothing else depends on the position
either: the flow takes images of any size whose sides are multiples of
2**levels (`image_shape` is then only the size it is built and trained at).
With `context` (a width), every split prior codes its latent in `context_stages`
stages (2: the halves of a checkerboard; 4: each again in two halves of the
channels; 8: the four positions of each 2x2 block, each in two halves of the
channels), each after the first with a context net that sees the values of the
stages before (see `SplitPrior`); with `last_context`, the last prior likewise
in `last_context_stages` (see `MixturePrior`).

Example:
    >>> import zoo
    >>> model = zoo.load("idf-cifar10")
    >>> bpd = model(images_uint8)                  # bits per dimension, one per image
    >>> ys, z = model.latents(images_uint8)        # integer latents
    >>> bool(np.all(model.inverse(ys, z) == images_uint8))
    True
"""

import math

import keras
from keras import ops

from zoo.idf.layers import (
    ChannelPermutation,
    IntegerCoupling,
    MixturePrior,
    SplitPrior,
    Squeeze,
    _spatial,
    _take_channels,
)


@keras.saving.register_keras_serializable(package="zoo.idf")
class IntegerDiscreteFlow(keras.Model):
    """`call(images)` returns each image's bits per dimension; `latents` and `inverse` are the bijection."""

    def __init__(self, image_shape=(32, 32, 3), levels=3, flows_per_level=4, width=96, depth=0, mixtures=5,
                 seed=0, fully_convolutional=False, undo_permutations=False, rezero=False, norm_groups=0, context=0,
                 last_context=0, context_stages=2, last_context_stages=4, **kwargs):
        super().__init__(**kwargs)
        h, w, _ = image_shape
        if h % 2**levels or w % 2**levels:
            raise ValueError(f"image sides {h}x{w} must be divisible by 2**levels = {2**levels}")
        self.image_shape, self.levels, self.flows_per_level = tuple(image_shape), levels, flows_per_level
        self.width, self.depth, self.mixtures, self.seed = width, depth, mixtures, seed
        self.fully_convolutional = fully_convolutional
        self.undo_permutations, self.rezero, self.norm_groups = undo_permutations, rezero, norm_groups
        self.context, self.last_context, self.context_stages = context, last_context, context_stages
        self.last_context_stages = last_context_stages
        flows, widths = _per_level(flows_per_level, levels, "flows_per_level", 0), _per_level(width, levels, "width", 1)
        depths = _per_level(depth, levels, "depth", 0)
        self._starts = [sum(flows[:level]) for level in range(levels + 1)]  # level l's steps: [starts[l], starts[l+1])
        self.squeezes = [Squeeze(name=f"squeeze{i}") for i in range(levels)]
        self.permutations = [ChannelPermutation(seed=seed + i, name=f"permute{i}") for i in range(sum(flows))]
        self.couplings = [
            IntegerCoupling(widths[level], depths[level], rezero, norm_groups, name=f"coupling{i}")
            for level in range(levels) for i in range(self._starts[level], self._starts[level + 1])
        ]
        self.split_priors = [SplitPrior(widths[i], depths[i], norm_groups, context, context_stages, name=f"split{i}")
                             for i in range(levels - 1)]
        self.prior = MixturePrior(mixtures, per_position=not fully_convolutional, context=last_context,
                                  stages=last_context_stages, name="prior")
        for level in range(levels):  # the permutations' orders are read before they are first called
            channels = image_shape[-1] * 4 ** (level + 1) // 2**level
            for permute, _ in self._steps(level):
                permute.build((None, None, None, channels))
        self.build()  # the shapes are known: create the weights now, so a rebuilt config can take them

    def build(self, input_shape=None):
        if not self.built:
            self.call(ops.zeros((1, *self.image_shape), "uint8"))  # creates every weight
            self.built = True

    def _steps(self, level):
        i, j = self._starts[level], self._starts[level + 1]
        return list(zip(self.permutations[i:j], self.couplings[i:j]))

    def level_forward(self, level, z):
        """Squeeze, then the level's permutations and couplings."""
        z = self.squeezes[level](z)
        befores, after = self._channel_orders(level)
        for order, (_, coupling) in zip(befores, self._steps(level)):
            z = coupling(_take_channels(z, order))
        return z if after is None else _take_channels(z, after)

    def level_inverse(self, level, z):
        """Exactly undo `level_forward`."""
        first, afters = self._channel_orders(level, inverse=True)
        if first is not None:
            z = _take_channels(z, first)
        for order, (_, coupling) in reversed(list(zip(afters, self._steps(level)))):
            z = _take_channels(coupling.inverse(z), order)
        return self.squeezes[level].inverse(z)

    def _channel_orders(self, level, inverse=False):
        """The channel orders a level takes: (one before each coupling, one after the last or None), or for
        the inverse (one before the last coupling's inverse or None, one after each coupling's inverse).

        With `undo_permutations`, each permutation's inverse after its coupling and the next permutation are
        one order, inverse_order[k][order[k + 1]], so a level takes one more than without."""
        permutations = [permute for permute, _ in self._steps(level)]
        if not self.undo_permutations or not permutations:
            if inverse:
                return None, [p.inverse_order for p in permutations]
            return [p.order for p in permutations], None
        first, last, pairs = permutations[0], permutations[-1], list(zip(permutations, permutations[1:]))
        if inverse:
            return last.order, [first.inverse_order, *(ops.take(b.inverse_order, a.order) for a, b in pairs)]
        return [first.order, *(ops.take(a.inverse_order, b.order) for a, b in pairs)], last.inverse_order

    def flow(self, images):
        """(list of (kept, factored-out) pairs at each split, last latent) of uint8 images."""
        z = ops.cast(images, "float32") - 128.0
        splits = []
        for level in range(self.levels):
            z = self.level_forward(level, z)
            if level < self.levels - 1:
                kept, y = self.split_priors[level].partition(z)
                splits.append((kept, y))
                z = kept
        return splits, z

    def latent_log_likelihoods(self, images):
        """[(latent, its log-likelihood per image in nats)]: each split prior's factored-out half, then the
        last latent under the last prior. Their sum is the images' log-likelihood."""
        z = ops.cast(images, "float32") - 128.0
        parts = []
        for level in range(self.levels):
            z = self.level_forward(level, z)
            if level < self.levels - 1:
                z, y, logp = self.split_priors[level](z)
                parts.append((y, logp))
        parts.append((z, self.prior(z)))
        return parts

    def call(self, images):
        log_likelihood = 0.0
        for _, logp in self.latent_log_likelihoods(images):
            log_likelihood += logp
        h, w = _spatial(images)
        dimensions = ops.cast(h * w * images.shape[-1], "float32")
        return -log_likelihood / (dimensions * math.log(2.0))

    def latents(self, images):
        """The integer latents of `images`: (list of factored-out ys, last z), as float32 tensors."""
        splits, z = self.flow(images)
        return [y for _, y in splits], z

    def inverse(self, ys, z):
        """The uint8 images whose latents are (`ys`, `z`)."""
        for level in reversed(range(self.levels)):
            if level < self.levels - 1:
                z = ops.concatenate([z, ys[level]], axis=-1)
            z = self.level_inverse(level, z)
        return ops.cast(ops.clip(z + 128.0, 0, 255), "uint8")

    def set_mixed_precision(self, enabled, heads=False, prior_heads="refined"):
        """Run the hidden convolutions of every net (the couplings', the priors', the context nets') in
        bfloat16 with float32 weights (`enabled`), or all in float32 (the default, and what every published
        figure but the bfloat16 codec's uses). Each net's last convolution stays in float32, so translations and
        prior parameters are float32 and the flow stays a bijection on integers either way. For training
        (`zoo train --mixed-precision`): on CPUs with bfloat16 matrix units (AMX) a step is about a quarter
        faster. `heads=True` (what `Codec(precision="bfloat16")` runs, outside training only) also
        multiplies each last convolution in bfloat16 (`layers.bfloat16_conv`). The heads that emit values in
        lattice units, the couplings' translations (rounded to integers) and the means of the split priors
        and of the last prior's context net, are refined to about float32: rounded to bfloat16's 8 bits, a
        mean near 128 moves by up to a quarter of a unit, which costs bits wherever the prior is sharp (bright
        smooth skies; `benchmarks/idf_prior_heads.py`). `prior_heads="rounded"` rounds those priors' heads
        to 8 bits as streams before that did (`Codec` decodes them so). The split priors' context nets emit
        corrections in units of the prior's scale, to 8 bits either way. Not part of the config; graphs traced
        before a change keep the precision they were traced in.

        Example:
            >>> flow.set_mixed_precision(True)    # train ...
            >>> flow.set_mixed_precision(False)   # ... measure and code in float32
        """
        if heads and not enabled:
            raise ValueError("heads=True needs enabled=True: the heads take the hidden layers' bfloat16")
        if prior_heads not in ("refined", "rounded"):
            raise ValueError(f"prior_heads must be 'refined' or 'rounded', got {prior_heads!r}")
        policy = "mixed_bfloat16" if enabled else "float32"
        couplings = [coupling.net for coupling in self.couplings]
        priors = [prior.net for prior in self.split_priors] + ([self.prior.context_net] if self.prior.context else [])
        corrections = [prior.context_net for prior in self.split_priors if prior.context]
        for nets, head in ((couplings, "refined"), (priors, prior_heads), (corrections, "rounded")):
            for net in nets:
                net.set_precision(policy, head if heads else None)

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "levels": self.levels,
            "flows_per_level": _listed(self.flows_per_level),
            "width": _listed(self.width),
            "depth": _listed(self.depth),
            "mixtures": self.mixtures,
            "seed": self.seed,
            "fully_convolutional": self.fully_convolutional,
            "undo_permutations": self.undo_permutations,
            "rezero": self.rezero,
            "norm_groups": self.norm_groups,
            **({"context": self.context} if self.context else {}),  # absent: the configs published before it
            **({"last_context": self.last_context} if self.last_context else {}),
            **({"context_stages": self.context_stages} if self.context_stages != 2 else {}),
            **({"last_context_stages": self.last_context_stages} if self.last_context_stages != 4 else {}),
        }


def _per_level(value, levels, name, lowest):
    """`value` for each of `levels` levels (one number for all, or a list of one per level), each at least `lowest`."""
    if isinstance(value, int):
        values = [value] * levels
    else:
        values = list(value)
        if len(values) != levels or not all(isinstance(v, int) for v in values):
            raise ValueError(f"{name} must be an int or a list of {levels} ints (one per level), got {value!r}")
    if min(values) < lowest:
        raise ValueError(f"{name} must be at least {lowest} at every level, got {value!r}")
    return values


def _listed(value):
    return value if isinstance(value, int) else list(value)
