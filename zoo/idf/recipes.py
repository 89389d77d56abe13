"""Registered IDF models and how each is trained.

`idf-cifar10` models 32x32 CIFAR-10 images (a prior per position). `idf-photos`
and `idf-gray` are fully convolutional (a prior per channel) and code images
of any size whole: they train on random crops of the training photographs
(`photos/train`, all but every tenth file, which is the validation part,
measured as whole photographs like the test split) and are measured on the
whole Kodak photographs, never trained on. They select on the bits of the
bfloat16 codec, `zoo compress`'s default on CPUs with bfloat16 units
(`photo_bits`), and fit their finish step in its arithmetic. `idf-photos` starts from every layer it
shares with `idf-cifar10` (the couplings, permutations and split priors of its
levels; the last prior from one interior position's where the channels agree);
layers of further levels start fresh. Both photo models' split priors have
context nets (`SplitPrior(context=32, stages=...)`: four coding stages in
`idf-photos`, eight in `idf-gray`, whose codec has time to spare), and their
last priors have one too (`MixturePrior(context=64, stages=...)`, the same
counts). After
training, both fit their last prior to the last latents of the whole training
photographs, then their context nets to the whole photographs' latents
(`fit_last_prior`, `fit_context_priors`: `fit_priors`, the recipes' finish step).
"""

import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf

from zoo import data
from zoo.idf.model import IntegerDiscreteFlow
from zoo.registry import register
from zoo.training import Recipe

PAPER = 'E. Hoogeboom, J. W. T. Peters, R. van den Berg, M. Welling. "Integer Discrete Flows and Lossless Compression." NeurIPS 2019. arXiv:1905.07376.'


def bpd(y_true, y_pred):
    """The loss and metric: the model's output already is each image's bits per dimension."""
    return y_pred


def photo_bits(model, recipe, split, data_dir=None, skip=()):
    """The photo recipes' evaluator: bits per dimension of each whole image of `split`, averaged over the
    images as `model.evaluate` averages them, with the networks in `model`'s own arithmetic, float32 when
    the harness measures (`bpd`), and in that of `Codec(precision="bfloat16")` (`bpd_bfloat16`). A name in
    `skip` is not measured: the harness skips `bpd` every epoch, where Keras's validation pass has measured it.

    `zoo compress` runs the bfloat16 codec by default where the CPU has bfloat16 units, as the machine that
    measures the zoo does; the photo recipes select on `bpd_bfloat16`, the ideal cost of that default codec
    (a training step's float32 gain can be a loss there: `benchmarks/idf_codec_precision.py`). Images are
    measured one at a time (whole photographs of several sizes).

    Example:
        >>> photo_bits(zoo.load("idf-photos"), PHOTO_RECIPE, "validation")
        {'bpd': 3.7..., 'bpd_bfloat16': 3.7...}
    """
    return {name: sum(bits) / len(bits) for name, bits in photo_bits_by_image(model, recipe, split, data_dir, skip).items()}


def photo_bits_by_image(model, recipe, split, data_dir=None, skip=()):
    """`photo_bits` before the mean: {name: [bits per dimension of each image of `split`, in order]}.

    Example:
        >>> photo_bits_by_image(zoo.load("idf-photos"), PHOTO_RECIPE, "validation")["bpd_bfloat16"][:2]
        [4.8..., 3.3...]
    """
    from zoo.idf.codec import bfloat16_copy

    flows = {"bpd": lambda: model, "bpd_bfloat16": lambda: bfloat16_copy(model)}
    measures = {name: tf.function(flow().__call__, reduce_retracing=True)
                for name, flow in flows.items() if name not in skip}
    bits = {name: [] for name in measures}
    for image, _ in recipe.load(split, data_dir).as_numpy_iterator():
        for name, measure in measures.items():
            bits[name].append(float(measure(image[None])[0]))
    return bits


def _flip(image, label):
    return tf.image.random_flip_left_right(image), label


def clipped_highlights(image, probability=0.5, max_shift=64):
    """`image` (uint8, any shape with channels last) brightened with `probability` by a random whole number
    in [0, `max_shift`] per channel and clipped at 255: the blown-out highlights of an overexposed sky or
    lamp, where a camera leaves one or two channels at exactly 255 and the others still vary.

    The training photographs have few such regions and Kodak many (half of kodim20's pixels have a channel
    at 255, its sky red and green); a flow that never saw them codes the constant channels as if they were
    as noisy as the varying one (`benchmarks/idf_highlights.py`). The shift keeps every other value's
    differences (noise, edges) as they were.

    Example:
        >>> out = clipped_highlights(tf.fill((4, 4, 3), tf.constant(250, tf.uint8)), probability=1.0)
        >>> bool(tf.reduce_all(out >= 250))
        True
    """
    shift = tf.random.uniform([image.shape[-1]], 0, max_shift + 1, dtype=tf.int32)
    shift *= tf.cast(tf.random.uniform([]) < probability, tf.int32)
    return tf.cast(tf.minimum(tf.cast(image, tf.int32) + shift, 255), tf.uint8)


def _photo_augment(image, label):
    return clipped_highlights(tf.image.random_flip_left_right(image)), label


def warmup_cosine(total_steps, peak=1e-3, warmup=1000):
    """Adam with a linear warm-up to `peak` over the first `warmup` steps (at most a tenth of the run),
    then a cosine decay to 5% of it.

    The warm-up is not optional: Adam's first updates move every weight by about +-lr whatever
    its gradient, and the couplings emit translations in units of 256 lattice steps, so a cold
    start at 1e-3 throws a trained flow from 4.2 to 9.6 bits per dimension within ten steps.
    """
    warmup = min(warmup, total_steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup, alpha=0.05, warmup_target=peak, warmup_steps=warmup
    )
    return keras.optimizers.Adam(schedule)


CIFAR10_RECIPE = Recipe(
        paper=PAPER,
    dataset="cifar10",
    epochs=42,
    batch_size=64,
    loss=bpd,
    metric="bpd",
    metrics=(bpd,),
    higher_is_better=False,
    optimizer=warmup_cosine,
    augment=_flip,
)


def idf(image_shape=(32, 32, 3), levels=3, flows_per_level=4, width=96, depth=0, mixtures=5, seed=0,
        fully_convolutional=False, undo_permutations=False, rezero=False, norm_groups=0, context=0, last_context=0,
        context_stages=2, last_context_stages=4):
    """An Integer Discrete Flow for uint8 images of `image_shape` (see `IntegerDiscreteFlow`)."""
    return IntegerDiscreteFlow(image_shape, levels, flows_per_level, width, depth, mixtures, seed,
                               fully_convolutional, undo_permutations, rezero, norm_groups, context, last_context,
                               context_stages, last_context_stages, name="idf")


@register("idf-cifar10", recipe=CIFAR10_RECIPE)
def idf_cifar10(**overrides):
    """Integer Discrete Flow, lossless model of 32x32 CIFAR-10 images (uint8 in, bits per dimension out)."""
    return idf(**{"image_shape": (32, 32, 3), "width": 128, **overrides})


@dataclasses.dataclass(frozen=True)
class PhotoRecipe(Recipe):
    """Random crops of a photograph collection for training; its fixed validation part and the test
    split (whole photographs of another collection, Kodak) as whole photographs, one per batch, like
    the codec sees them. Validation photographs are cut at the bottom and right to multiples of
    `validation_multiple` (2**levels of any model up to 5 levels); Kodak's sides already are."""

    collection: str = "train"
    crop: int = 64
    crops_per_epoch: int = 8192
    validation_multiple: int = 32
    mode: str = "RGB"  # or "L": the luma of the same photographs

    def with_crop(self, crop):
        """This recipe on random `crop` x `crop` crops, as many fewer (or more) of them an epoch as keeps the
        pixels of an epoch: `crop` a positive multiple of `validation_multiple`, so every level squeezes whole,
        and no larger than the smallest training photograph's shorter side.

        >>> PHOTO_RECIPE.with_crop(256).crops_per_epoch  # 2048 crops of 128x128
        512
        """
        from PIL import Image

        if not (isinstance(crop, int) and crop > 0 and crop % self.validation_multiple == 0):
            raise ValueError(f"takes crops a positive multiple of {self.validation_multiple} pixels a side, not {crop!r}")
        side = min(min(Image.open(f).size) for f in self._files(self.train_split))  # headers only
        if crop > side:
            raise ValueError(f"takes crops up to its smallest training photograph's side, {side} pixels, not {crop}")
        crops = max(1, round(self.crops_per_epoch * self.crop**2 / crop**2))
        return dataclasses.replace(self, crop=crop, crops_per_epoch=crops)

    def _files(self, split):
        if split == self.eval_split:
            return data.photo_files(self.eval_split)
        return data.photo_files(self.collection, split)

    def load(self, split, data_dir=None):
        if split == self.train_split:
            return data.photo_crops(self._files(split), self.crop, self.crops_per_epoch, self.mode)
        if split == self.validation_split:
            return data.photo_images(self._files(split), self.mode, self.validation_multiple)
        if split == self.eval_split:
            return data.photo_images(self._files(split), self.mode)
        raise ValueError(f"splits are {self.train_split!r}, {self.validation_split!r} and {self.eval_split!r}, not {split!r}")

    def pipeline(self, split, batch_size, training, data_dir=None):
        if split in (self.eval_split, self.validation_split):  # whole photographs of several sizes: one at a time
            return self.load(split).batch(1)
        return super().pipeline(split, batch_size, training, data_dir)

    def describe(self, split, data_dir=None):
        collection = self.eval_split if split == self.eval_split else self.collection
        files = self._files(split)
        what = {self.train_split: f"random {self.crop}x{self.crop} crops",
                self.validation_split: "whole photographs",
                self.eval_split: "whole photographs"}
        return {
            "name": f"photos/{collection}" + (" (luma)" if self.mode == "L" else ""),
            "split": split,
            "part": f"{what[split]} of {len(files)} files"
                    + (f", cut to multiples of {self.validation_multiple}" if split == self.validation_split else ""),
            "version": data.photo_version(collection),
            "examples": len(files),
        }


def _provenance(name):
    """What a model started from: the published `name` and the sha256 of its weights, for the manifest."""
    from zoo import hub, manifest

    return {"model": name, "weights_sha256": manifest.sha256(hub.fetch(name).files["model.weights.h5"])}


def _from_idf_cifar10(model):
    """idf-photos starts from idf-cifar10: every layer the two share by name and shape (the couplings,
    permutations and split priors of idf-cifar10's levels), and the last prior (one mixture per channel)
    from idf-cifar10's at an interior position of its 4x4 last latent when the channels agree. Layers
    idf-cifar10 does not have (the split priors and couplings of further levels, the split priors' context
    nets) keep their fresh weights."""
    import zoo

    source = zoo.load("idf-cifar10")
    theirs = {layer.name: layer for layer in source.layers}
    for layer in model.layers:
        if layer.name not in theirs or not layer.weights:
            continue
        values = [w.numpy() for w in _without_context(theirs[layer.name])]
        if layer.name == "prior" and source.prior.per_position:
            values = [v[1, 1] for v in values]
        weights = _without_context(layer)  # context nets stay fresh: idf-cifar10 has none
        if [v.shape for v in values] == [tuple(w.shape) for w in weights]:
            for w, v in zip(weights, values):
                w.assign(v)
    return _provenance("idf-cifar10")


def _without_context(layer):
    """A layer's weights less its context net's, if it has one (a split prior or last prior with context)."""
    context = {id(w) for w in layer.context_net.weights} if getattr(layer, "context", 0) else set()
    return [w for w in layer.weights if id(w) not in context]


def grown_from_idf_photos(model, freeze=False):
    """Start a flow with at least idf-photos' couplings and network depth at every level from the published
    idf-photos, everything added computing the identity: the model then codes exactly as idf-photos does,
    and training shows what capacity added at a level is worth.

    Each level's first steps (permutation, coupling) and the split priors and last prior take idf-photos'
    weights; the added steps come after them, their couplings' heads are zero-initialised (no translation)
    and their permutations come in pairs, each undoing the one before (a lone last one is the identity),
    so the level's output keeps the channel order its split prior was trained on. Residual blocks added
    to a network (a larger `depth`) start with their second convolution zero, so they pass their input on.

    With `freeze`, every layer that took idf-photos' weights is frozen (`trainable = False`), so training
    moves only the added couplings: what they can add to the trained flow, at any rate
    (`train_only_added_couplings`).

    Example (`benchmarks/variant_probe.py`, two couplings more at level 2):
        idf-photos:flows_per_level=[4,4,6,4,4],recipe.initialize=zoo.idf.recipes.grown_from_idf_photos
    """
    import zoo

    source = zoo.load("idf-photos")
    if model.levels != source.levels or model.image_shape[-1] != source.image_shape[-1]:
        raise ValueError(f"a flow grown from idf-photos needs its {source.levels} levels and "
                         f"{source.image_shape[-1]} channels")
    if (model.rezero, model.norm_groups) != (source.rezero, source.norm_groups):
        raise ValueError("a flow grown from idf-photos needs its rezero and norm_groups")
    for level in range(model.levels):
        theirs, ours = source._steps(level), model._steps(level)
        if len(ours) < len(theirs):
            raise ValueError(f"level {level} has {len(ours)} couplings, fewer than idf-photos' {len(theirs)}")
        for (their_permute, their_coupling), (permute, coupling) in zip(theirs, ours):
            permute.set_weights(their_permute.get_weights())
            _grow_net(coupling.net, their_coupling.net, coupling.name)
            coupling.trainable = not freeze
        added = [permute for permute, _ in ours[len(theirs):]]
        for first, second in zip(added[::2], added[1::2]):
            second.set_weights(first.get_weights()[::-1])  # (order, inverse order) swapped: the inverse
        if len(added) % 2:
            identity = np.arange(added[-1].order.shape[0], dtype="int32")
            added[-1].set_weights([identity, identity])
    for theirs, ours in zip(source.split_priors, model.split_priors):
        _grow_net(ours.net, theirs.net, ours.name)
        _take_context(ours, theirs)
        ours.trainable = not freeze
    for ours, theirs in zip(_without_context(model.prior), _without_context(source.prior)):
        ours.assign(theirs)
    _take_context(model.prior, source.prior)
    model.prior.trainable = not freeze
    return _provenance("idf-photos")


def _take_context(ours, theirs):
    """A prior (split or last) takes `theirs`' context net where both have one of the same width; else its
    own stays fresh."""
    if theirs.context and ours.context == theirs.context:
        ours.context_net.set_weights(theirs.context_net.get_weights())


def _grow_net(ours, theirs, owner):
    """`ours` (a `ConvNet`) takes `theirs`' weights; the residual blocks `theirs` does not have start as the
    identity: their second convolution zero, so h = relu(h + 0) = h (h is a ReLU's output)."""
    if ours.depth < theirs.depth or ours.width != theirs.width:
        raise ValueError(f"{owner}: width {ours.width} and depth {ours.depth} cannot start from "
                         f"width {theirs.width} and depth {theirs.depth}")
    shared = [(ours.stem, theirs.stem), (ours.head, theirs.head), *zip(ours.inner, theirs.inner),
              *zip(ours.outer, theirs.outer)]
    for layer, source in shared:
        layer.set_weights(source.get_weights())
    for outer in ours.outer[theirs.depth:]:
        outer.set_weights([np.zeros_like(w) for w in outer.get_weights()])


train_only_added_couplings = functools.partial(grown_from_idf_photos, freeze=True)


def fit_last_prior(model, recipe, data_dir=None, steps=2000, learning_rate=3e-2):
    """Fit a fully convolutional flow's last prior, the flow fixed, to the last latents of the whole training
    photographs (the recipe's training files, cut to multiples of its `validation_multiple`), by Adam on the
    exact bits of their per-channel value counts; returns what it did for the run's record.

    Training on crops leaves the last prior fitted to 4x4 last latents that are mostly border; a whole
    photograph's are wider and otherwise distributed (narrower, on idf-photos). With context the mixtures
    code the first coding stage only, and are fitted to it. Being a mixture per channel, the prior needs
    only each channel's count of each integer value, so a step costs one evaluation per distinct value.
    A recipe's `finish` step (`idf-photos`, `idf-gray`).

    Example:
        >>> fit_last_prior(zoo.load("idf-photos"), PHOTO_RECIPE)["bits_per_dim_after"]  # on the training photographs
    """
    if model.prior.per_position:
        raise ValueError("fit_last_prior needs a fully convolutional flow (a last prior per channel)")
    files = recipe._files(recipe.train_split)
    counts = last_latent_counts(model, files, recipe.mode, recipe.validation_multiple)
    before, after = fit_last_prior_to_counts(model, counts, steps, learning_rate)
    return {"step": "fit_last_prior", "photographs": len(files), "steps": steps, "learning_rate": learning_rate,
            "bits_per_dim_before": round(before, 6), "bits_per_dim_after": round(after, 6)}


def fit_last_prior_to_counts(model, counts, steps=2000, learning_rate=3e-2):
    """Adam on the bits the last prior spends on `counts` (from `last_latent_counts`), the flow untouched;
    returns (bits per image dimension before, after). The latents do not depend on the last prior, so one
    set of counts serves any number of fits."""
    from tqdm import tqdm

    prior = model.prior
    variables = [prior.means, prior.log_scales, prior.logits]
    before = float(last_prior_bits(model, counts))
    optimizer = keras.optimizers.Adam(learning_rate)
    for _ in tqdm(range(steps), desc="fit last prior", unit="step", mininterval=10):
        with tf.GradientTape() as tape:
            loss = last_prior_bits(model, counts)
        optimizer.apply(tape.gradient(loss, [v.value for v in variables]), variables)
    return before, float(last_prior_bits(model, counts))


def last_prior_bits(model, counts):
    """The bits per image dimension the flow's last prior spends on `counts` (from `last_latent_counts`)."""
    from zoo.idf.distributions import LOG2, mixture_discretized_logistic_logp

    values, counts, dims = counts
    return -tf.reduce_sum(counts * mixture_discretized_logistic_logp(values, *model.prior.params())) / (dims * LOG2)


def last_latent_counts(model, files, mode="RGB", multiple=32):
    """(values (V, C), counts (V, C), image dimensions): how often each channel of the last latents of the
    whole images in `files` (cut to multiples of `multiple`) takes each integer value where the mixtures code
    it (everywhere; with context, in the first coding stage only), from the least to the greatest counted;
    what a per-channel last prior's bits depend on."""
    from zoo.idf.layers import coding_stages

    latents, coded, dims = [], [], 0
    for image, _ in data.photo_images(files, mode, multiple).as_numpy_iterator():
        _, z = model.latents(image[None])
        first = coding_stages(z, model.prior.stages) == 0 if model.prior.context else np.ones((1, 1, 1, 1), bool)
        latents.append(np.asarray(z, dtype=np.int64).reshape(-1, z.shape[-1]))
        coded.append(np.broadcast_to(np.asarray(first), z.shape).reshape(-1, z.shape[-1]))
        dims += image.size
    z, coded = np.concatenate(latents), np.concatenate(coded)
    low, high = z[coded].min(), z[coded].max()
    counts = np.stack([np.bincount(np.clip(channel - low, 0, high - low), weights=where, minlength=high - low + 1)
                       for channel, where in zip(z.T, coded.T)], axis=1)
    values = np.broadcast_to(np.arange(low, high + 1)[:, None], counts.shape)
    return tf.constant(values, tf.float32), tf.constant(counts, tf.float32), dims


def fit_context_priors(model, recipe, data_dir=None, steps=6000, learning_rate=1e-3, crop=64, batch_size=8, seed=0,
                       last_steps=6000, last_crop=8, last_batch_size=16):
    """Fit the context nets of the split priors (`SplitPrior(context=...)`) and of the last prior
    (`MixturePrior(context=...)`), the flow and everything else fixed, to the latents of the whole training
    photographs (the recipe's training files, cut to multiples of its `validation_multiple`); returns what
    it did for the run's record.

    Each net trains on its own: Adam with a cosine decay on the exact bits of random crops of the latents
    (at even offsets, so the checkerboard keeps its parity). A split prior's net: `steps` batches of
    `batch_size` crops, `crop` positions a side at the first split and half as many at each split after
    (its latents are half as wide), at least 16; the loss is the bits of the stages after the first, the
    only ones it codes. The last prior's: `last_steps` batches of `last_batch_size` crops `last_crop` a side
    (the smallest training photograph's last latent), the loss the bits of its latent (`last_steps=0`: left
    as it is). Training the flow on crops shows the context nets the same few positions as its priors; the
    whole photographs' latents are what the codec sees.

    Example:
        >>> fit_context_priors(zoo.load("idf-photos"), PHOTO_RECIPE)["bits_per_dim_after"]  # training photographs
    """
    from zoo.idf.distributions import LOG2

    if not model.context and not model.last_context:
        raise ValueError("fit_context_priors needs a flow with context nets (context or last_context > 0)")
    files = recipe._files(recipe.train_split)
    latents, last, dims = split_latents(model, files, recipe.mode, recipe.validation_multiple)
    rng = np.random.default_rng(seed)
    fit = functools.partial(_fit_on_crops, learning_rate=learning_rate, rng=rng)
    before = after = 0.0
    for level, prior in enumerate(model.split_priors if model.context else []):

        def bits(kept, y, mean, log_scale, prior=prior):
            return -tf.reduce_sum(prior.context_logp(kept, y, mean, log_scale)) / LOG2

        side = max(16, crop >> level)
        b, a = fit(prior.context_net, bits, latents[level], side, steps, batch_size, f"fit context prior {level}")
        before, after = before + b, after + a
    record = {"step": "fit_context_priors", "photographs": len(files), "steps": steps, "learning_rate": learning_rate,
              "bits_per_dim_before": round(before / dims, 6), "bits_per_dim_after": round(after / dims, 6)}
    if model.last_context and last_steps:
        bits = lambda z: -tf.reduce_sum(model.prior(z)) / LOG2  # noqa: E731
        b, a = fit(model.prior.context_net, bits, [[z] for z in last], last_crop, last_steps, last_batch_size,
                   "fit last prior's context")
        record.update(last_steps=last_steps, last_bits_per_dim_before=round(b / dims, 6),
                      last_bits_per_dim_after=round(a / dims, 6))
    return record


def _fit_on_crops(net, bits, images, side, steps, batch_size, desc, learning_rate, rng):
    """Adam with a cosine decay on `bits(*arrays)` per dimension of batches of random crops, `side` a side at
    even offsets, of `images` (each a list of arrays (H, W, C) of one image), training `net` only; returns the
    bits of the whole images before and after. A fit that leaves the whole images' bits higher (a net already
    trained with the flow, say), or not a number, is undone: `net` keeps its weights, and after equals before."""
    from tqdm import tqdm

    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps))

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = bits(*batch) / tf.cast(tf.size(batch[-1]), tf.float32)
        variables = net.trainable_variables
        optimizer.apply(tape.gradient(loss, [v.value for v in variables]), variables)

    measure = tf.function(bits, reduce_retracing=True)  # whole photographs of many sizes
    start = net.get_weights()
    before = sum(float(measure(*[a[None] for a in image])) for image in images)
    large = [image for image in images if min(image[0].shape[:2]) >= side]
    for _ in tqdm(range(steps), desc=desc, unit="step", mininterval=10):
        batch = []
        for _ in range(batch_size):
            image = large[rng.integers(len(large))]
            h, w = image[0].shape[:2]
            i, j = rng.integers(h - side + 1), rng.integers(w - side + 1)
            i, j = i - i % 2, j - j % 2  # crops keep the checkerboard's parity
            batch.append([a[i : i + side, j : j + side] for a in image])
        step([np.stack(b) for b in zip(*batch)])
    after = sum(float(measure(*[a[None] for a in image])) for image in images)
    if not after < before:  # worse, or not a number
        net.set_weights(start)
        return before, before
    return before, after


def split_latents(model, files, mode="RGB", multiple=32):
    """([per split: [(kept, y, mean, log_scale) per image]], [last latent per image], image dimensions) of the
    whole images in `files` (cut to multiples of `multiple`): what the priors' context nets see and code;
    float32 arrays."""
    latents, last, dims = [[] for _ in model.split_priors], [], 0
    for image, _ in data.photo_images(files, mode, multiple).as_numpy_iterator():
        splits, z = model.flow(image[None])
        for level, (kept, y) in enumerate(splits):
            mean, log_scale = model.split_priors[level].params(kept)
            latents[level].append([np.asarray(a, np.float32)[0] for a in (kept, y, mean, log_scale)])
        last.append(np.asarray(z, np.float32)[0])
        dims += image.size
    return latents, last, dims


def fit_priors(model, recipe, data_dir=None):
    """The photo recipes' finish step: the last prior (`fit_last_prior`), then, for a flow with context nets,
    those (`fit_context_priors`), in the arithmetic the recipe selects on. With `metric="bpd_bfloat16"`
    both fit a copy that runs as the bfloat16 codec does (`codec.bfloat16_copy`: its latents and its
    rounded prior heads), and `model` takes the copy's weights; a fit in float32 there gains float32 bits
    and loses more of the codec's (`results/idf_codec_precision_training.md`).

    Example:
        >>> fit_priors(flow, PHOTO_RECIPE)["arithmetic"]
        'bfloat16'
    """
    from zoo.idf.codec import bfloat16_copy

    bfloat16 = recipe.metric == "bpd_bfloat16"
    fitted = bfloat16_copy(model) if bfloat16 else model
    record = fit_last_prior(fitted, recipe, data_dir)
    if model.context or model.last_context:
        record = {"steps": [record, fit_context_priors(fitted, recipe, data_dir)]}
    if bfloat16:
        model.set_weights(fitted.get_weights())
    return {**record, "arithmetic": "bfloat16" if bfloat16 else "float32"}


PHOTO_RECIPE = PhotoRecipe(
    paper=PAPER,
    dataset="photos/train",
    epochs=20,
    crop=128,  # 5 levels: a 4x4 last latent in training, so its priors see more than a border
    crops_per_epoch=2048,
    batch_size=4,  # the pixels of a step and of an epoch as 16 crops of 64x64 and 8192 crops
    loss=bpd,
    metric="bpd_bfloat16",  # what the default codec spends (`photo_bits`)
    metrics=(bpd,),
    evaluator=photo_bits,
    higher_is_better=False,
    optimizer=lambda steps: warmup_cosine(steps, peak=3e-4),
    augment=_photo_augment,
    train_split="train",
    validation_split="validation",
    eval_split="kodak24",
    initialize=_from_idf_cifar10,
    finish=fit_priors,
)
GRAY_RECIPE = dataclasses.replace(PHOTO_RECIPE, mode="L", initialize=None, augment=_flip, crop=64, crops_per_epoch=8192,
                                  batch_size=16,
                                  optimizer=lambda steps: warmup_cosine(steps, peak=1e-3))


@register("idf-photos", recipe=PHOTO_RECIPE)
def idf_photos(**overrides):
    """Integer Discrete Flow for photographs of any size, fully convolutional (uint8 RGB in, bits per dimension out)."""
    return idf(**{"image_shape": (64, 64, 3), "width": 128, "levels": 5, "fully_convolutional": True, "context": 32,
                  "last_context": 64, "context_stages": 4, **overrides})


@register("idf-gray", recipe=GRAY_RECIPE)
def idf_gray(**overrides):
    """Integer Discrete Flow for grayscale images of any size, fully convolutional (uint8 gray in, bits per dimension out)."""
    return idf(**{"image_shape": (64, 64, 1), "width": 128, "fully_convolutional": True, "context": 32,
                  "last_context": 64, "context_stages": 8, "last_context_stages": 8, **overrides})
