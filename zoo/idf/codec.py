"""A lossless image codec: the integer flow's latents, entropy coded with rANS (`constriction`).

Any uint8 image (H, W, C) with C in {1, 3}, or a batch (N, H, W, C), becomes
one byte stream. Images are edge-padded to multiples of the tile size and cut
into tiles: the model's input size for a flow with a per-position prior; for a
fully convolutional flow the whole image (rounded up to a multiple of
2**levels), or pieces of at most MAX_SIDE a side. Grayscale is coded as three
equal channels by an RGB model. The stream:

    magic "Z" | version | model name | 4-byte weights tag | flags | H, W, N | CRC32 | body

The body is the rANS words, or, in the rare case where that would be larger
(a tiny image padded to a whole tile, noise), the raw pixels ("stored" mode).
In a batch the choice is made per image: a stream whose "mixed" flag is set
begins its body with one bit per image (set: stored) and the stored images'
raw pixels, then the rANS words of the others, so no image of a batch costs
more than its raw pixels (plus its bit). Where a split prior's latent holds whole
blocks of `scale_offsets.BLOCK` positions (photographs; not 32x32 tiles), the
rANS words carry, before that latent's values, what the encoder chose per block and
channel and the decoder applies: a mean shift (`mean_shifts`; streams with the "mean shifts" flag) and a
scale offset. A split prior with context (`SplitPrior(context=..., stages=...)`) has its latent coded in
stages (`layers.coding_stages`): the first under the prior's tables, each later one under tables its
context net derives from the stages before. The mean shifts apply to every stage; the scale offsets to the
first (sent only for the channels it has values in) and, in streams with mean shifts, a second set to the
later stages. A last prior with context
(`MixturePrior(context=...)`) has the last latent coded in its `stages` the same way, the first under its
mixtures. A value outside its table's window follows its segment's symbols (`escapes`).
The CRC32 covers the header and the
original pixels and is checked after decoding, so a corrupted, truncated or
foreign stream raises `CodecError` rather than returning wrong pixels. A stream
in float32 or bfloat16 decodes only on CPUs that compute the networks alike;
`precision="portable"` streams (format 8, `exact`) decode on any machine.

Example:
    >>> from zoo import idf
    >>> data = idf.compress(image)                # uint8 (H, W, 3) or (N, H, W, C)
    >>> np.array_equal(idf.decompress(data), image)
    True
"""

import functools
import hashlib
import math
import re
import struct
import threading
import zlib

import constriction
import numpy as np
from keras import ops

from zoo.errors import ZooError
from zoo.idf import escapes, exact, mean_shifts, scale_offsets, tables
from zoo.idf.layers import coding_stages

MAGIC = b"Z"
VERSION = 7  # 3: table keys in float32 and the thin head convolutions; 4: those heads sum their taps
# in another order; 5: the split priors' scale offsets per block (`scale_offsets`); 6: a coarser grid of
# the means' fractions for wide logistics (`tables.fraction_step`); 7: escaped values coded by their
# distance beyond the window (`escapes`). A stream before 6 could decode to other pixels, so it is
# refused by its version; 6 differs from 7 only in its escaped values, so a stream without any is written
# as 6, the oldest version that reads it
PORTABLE_VERSION = 8  # 8: format 7 in the portable arithmetic (`exact`), which older zoos cannot compute
READS = (6, 7, PORTABLE_VERSION)  # the versions this zoo decodes
CHUNK_PIXELS = 128 * 32 * 32  # pixels per model call (at least one tile); encoder and decoder use the same
# chunks, so their floats agree
MAX_SIDE = 1024  # a fully convolutional flow codes an image whole, or in pieces of at most this side
MAX_PIXELS = 89_478_485  # like Pillow's decompression-bomb guard (Image.MAX_IMAGE_PIXELS): N x H x W at most
# A stream's symbols cost at least this many bits each (the tables' probabilities are finite), so a header
# that claims more dimensions than its payload could hold is refused before any decoding work.
MIN_BITS_PER_DIM = 1e-3


class CodecError(ZooError):
    """A stream that cannot be decoded to the exact pixels it was made from."""


def compress(images, model=None, precision="auto"):
    """Losslessly code uint8 `images` ((H, W, C) or (N, H, W, C), C = 1 or 3) as bytes.

    `model`: None (default) codes with each published IDF model that fits the images (see
    `candidates`) and keeps the shortest stream; a registered model's name forces that model; an
    `IntegerDiscreteFlow` of your own (say, fine-tuned on your images) codes with it. The stream
    records the model's name and a hash of its weights; `decompress` finds a registered model by that
    name, and needs your own flow back. `precision`: the networks' arithmetic, "auto", "float32",
    "bfloat16" or "portable" (see `Codec`); the stream records it. Only "portable" streams decode on any
    machine; the others where the CPU computes the networks as this one does.
    """
    if model is not None:
        return _codec(model, precision).compress(images)
    shape = np.asarray(images).shape
    streams = [_codec(name, precision).compress(images) for name in candidates(shape[-1], shape[-3] * shape[-2])]
    return min(streams, key=len)


PHOTO_PIXELS = 128 * 128
"""Images of at least this many pixels are photo-sized: tile models (trained on 32x32 crops, no
context across tiles) are not tried on them when a fully convolutional model is published."""


def candidates(channels, pixels=0):
    """The published IDF models that `compress` tries by default on `channels`-channel images of `pixels` pixels.

    Models made for exactly `channels` channels if any is published (a gray image is not coded as three
    equal channels when a gray model exists), else those that take more; of these, on photo-sized
    images (`PHOTO_PIXELS`), only the fully convolutional ones if any.
    """
    import zoo

    models = {name: _codec(name).flow for name in zoo.list_models("idf-*", pretrained=True)}
    fitting = [name for name, flow in models.items() if channels <= flow.image_shape[-1]]
    if not fitting:
        raise CodecError(f"no published IDF model codes {channels}-channel images")
    exact = [name for name in fitting if models[name].image_shape[-1] == channels]
    names = exact or fitting
    whole = [name for name in names if models[name].fully_convolutional]
    return whole if pixels >= PHOTO_PIXELS and whole else names


def decompress(data, max_pixels=MAX_PIXELS, model=None):
    """The exact uint8 array that `compress` coded into `data`; any malformed stream raises `CodecError`.

    The header is checked on its own first: a stream that names a model this
    zoo does not have, or claims more than `max_pixels` pixels (N x H x W;
    None lifts the limit), is refused before any decoding. `model`: the flow
    the stream was made with, when it is not a registered one.
    """
    from zoo.errors import UnknownModelError

    header = _Header.parse(data)
    header.check_size(max_pixels)
    if model is not None:
        return _codec(model).decompress(data, max_pixels)
    try:
        codec = Codec.for_model(header.name)
    except UnknownModelError:
        raise CodecError(f"stream names model {header.name!r}, which this zoo does not have") from None
    return codec.decompress(data, max_pixels)


_own_codecs = {}  # (id of a user's flow, its weights tag) -> Codec
# Codecs may code in several threads at once (`files`: a folder, several files at a time); what they build
# and cache on first use (codecs, siblings, entropy tables) is built under this lock, once.
_building = threading.RLock()


def _codec(model, precision="auto"):
    """The codec of a registered model's name or of an `IntegerDiscreteFlow` instance, in `precision` (a stream
    of the other precision is decoded by the codec's sibling)."""
    if isinstance(model, str):
        return Codec.for_model(model, precision)
    from zoo.idf.model import IntegerDiscreteFlow

    if not isinstance(model, IntegerDiscreteFlow):
        raise CodecError(f"model must be a registered IDF name or an IntegerDiscreteFlow, got {type(model).__name__}")
    key = (id(model), _weights_tag(model))
    with _building:
        if key not in _own_codecs:
            _own_codecs.clear()  # one user flow at a time: its tables and compiled functions
            _own_codecs[key] = Codec(model, _NAME_CHARS.sub("-", model.name.lower())[:32])
        codec = _own_codecs[key]
    return codec if precision == "auto" else codec._sibling(precision)


def _weights_tag(flow):
    """4 bytes of the SHA-256 of every weight: a stream made with other weights is refused."""
    digest = hashlib.sha256()
    for w in flow.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.digest()[:4]


PRECISIONS = ("auto", "float32", "bfloat16", "portable")
PORTABLE_HINT = ("float32 and bfloat16 streams decode only where the CPU sums the networks' products alike; "
                 "precision='portable' (zoo compress --precision portable) writes streams that decode anywhere")
ROUNDED_PRIORS = "bfloat16-rounded-priors"  # the bfloat16 arithmetic of streams made before the priors' mean
# heads were refined (`IntegerDiscreteFlow.set_mixed_precision(prior_heads="rounded")`): kept to decode them


class Codec:
    """Codes images with one `IntegerDiscreteFlow`; `name` is what streams record to find it again.

    `scale_offsets=False` codes without the split priors' scale offsets per block (`scale_offsets`), and
    `mean_shifts=False` without their mean shifts per block (`mean_shifts`) and the later stages' offsets, as
    streams were before them (escaped values aside, which format 7 codes shorter: `escapes`), to measure what
    they save; the stream records the choices, so any codec of the flow decodes it.

    `precision`: the arithmetic of the flow's networks. "float32"; "bfloat16": every convolution multiplies
    in bfloat16 and sums in float32, hidden layers rounded to bfloat16, the couplings' translations refined
    to about float32 (`IntegerDiscreteFlow.set_mixed_precision(True, heads=True)`): faster on CPUs with
    bfloat16 matrix units (AMX), at a small cost in bits (`benchmarks/idf_codec_precision.py`); "auto" (the
    default): "bfloat16" for a fully convolutional flow (photographs) where the CPU has such units, else
    "float32". Either way the code is exact: encoder and decoder run the same arithmetic. The stream
    records the precision, so any codec of the flow decodes it (a bfloat16 stream slowly where the CPU
    lacks the units). Bfloat16 streams made before the priors' heads were refined record no refinement and
    decode in that older arithmetic (`ROUNDED_PRIORS`, which `precision` also takes). "portable": every
    convolution on integers, summed exactly in float64 (`exact`), so its streams (format 8) decode bit for bit
    on any machine; several times slower. A float32 or bfloat16 stream decodes only where the CPU sums the
    networks' products as the encoder's did (`benchmarks/idf_portability.py`: not on a CPU whose oneDNN
    kernels differ, such as one without AMX for bfloat16, or one without AVX-512 for float32)."""

    def __init__(self, flow, name, scale_offsets=True, precision="auto", mean_shifts=True):
        _name_number(name)  # refuse a name the header cannot record before coding anything
        if precision not in (*PRECISIONS, ROUNDED_PRIORS):
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "auto":
            precision = "bfloat16" if flow.fully_convolutional and bfloat16_units() else "float32"
        self.flow, self.name, self.scale_offsets, self.precision = flow, name, scale_offsets, precision
        self.mean_shifts = mean_shifts
        self.tag = _weights_tag(flow)
        self._siblings = {precision: self}  # precision -> codec of the same flow, for streams of the other
        means, log_scales, logits = (ops.convert_to_numpy(p) for p in flow.prior.params())
        k = means.shape[-1]
        self._portable = precision == "portable"
        self._prior_low, counts = tables.mixture_tables(
            means.reshape(-1, k), log_scales.reshape(-1, k), logits.reshape(-1, k), self._portable
        )
        self._prior_width = counts.shape[1] - 1
        self._prior_counts = counts
        self._prior_models = [_categorical(row) for row in counts]
        self._logistic_models, self._logistic_counts = {}, {}  # table key -> Categorical / counts, built on first use
        self._bank_low = np.zeros(tables.SCALE_LEVELS * tables.FRACTIONS, np.int64)
        self._bank_width = np.zeros_like(self._bank_low)
        if precision in ("float32", "portable"):
            self._compile(exact_copy(flow) if self._portable else flow)
        else:
            self._compile(bfloat16_copy(flow, prior_heads="rounded" if precision == ROUNDED_PRIORS else "refined"))

    def _version(self, escaped):
        """The format a stream of this codec is written in: portable streams 8; others 7 where a value
        escaped, else 6 (which older zoos read too)."""
        return PORTABLE_VERSION if self._portable else VERSION if escaped else READS[0]

    def _sibling(self, precision):
        """The codec of the same flow, name and offsets in `precision` (built once; this one if it is in it)."""
        with _building:
            if precision not in self._siblings:
                sibling = Codec(self.flow, self.name, self.scale_offsets, precision, self.mean_shifts)
                sibling._siblings = self._siblings
                self._siblings[precision] = sibling
        return self._siblings[precision]

    def _compile(self, flow):
        """Graph versions of the flow's pieces, each traced once for any batch size.

        Encoder and decoder call the very same functions on the very same chunks,
        so every float they compute, and hence every table they pick, agrees. The flow's Python has no
        tensor-dependent control flow, so AutoGraph is off: it shortens the first call's tracing,
        which a one-photo `zoo compress` pays in full.
        """
        import tensorflow as tf

        h, w, c = (None, None, flow.image_shape[-1]) if flow.fully_convolutional else flow.image_shape
        half = lambda side, level: None if side is None else side >> (level + 1)  # noqa: E731
        spec = lambda *shape: tf.TensorSpec((None, *shape), tf.float32)  # noqa: E731
        self._flow = _ConcreteGraph(flow.flow, input_signature=[tf.TensorSpec((None, h, w, c), tf.uint8)])
        last = spec(half(h, flow.levels - 1), half(w, flow.levels - 1), c * 2 ** (flow.levels + 1))
        stage = tf.TensorSpec((), tf.float32)
        where = tf.TensorSpec((None,), tf.int64)  # a stage's flat positions: keys are computed only there
        self._last_context = (  # the table keys of the last latent's later stages, or None
            _ConcreteGraph(functools.partial(_last_context_keys, flow.prior), input_signature=[last, stage, where])
            if flow.prior.context else None)
        flat = tf.TensorSpec((None,), tf.float32)
        self._shifted_keys = _ConcreteGraph(_shifted_keys, input_signature=[flat] * 4)
        self._params, self._keys, self._context, self._level_inverse = [], [], [], []  # per level: split prior's
        # (mean, log-scale), table keys of its first stage from those and the blocks' mean shifts and scale
        # offsets, its later stages' (mean, log-scale) from the context net (or None), inverse
        for level in range(flow.levels):
            side = half(h, level), half(w, level)
            channels = c * 4 ** (level + 1) // 2**level
            self._level_inverse.append(
                _ConcreteGraph(functools.partial(flow.level_inverse, level), input_signature=[spec(*side, channels)])
            )
            if level < flow.levels - 1:
                half_spec = spec(*side, channels // 2)
                self._params.append(_ConcreteGraph(flow.split_priors[level].params, input_signature=[half_spec]))
                index_spec = tf.TensorSpec((None, None, None, channels // 2), tf.int32)
                self._keys.append(_ConcreteGraph(_offset_keys,
                                                 input_signature=[half_spec, half_spec, index_spec, index_spec, where]))
                prior = flow.split_priors[level]
                self._context.append(_ConcreteGraph(functools.partial(_context_params, prior),
                                                    input_signature=[half_spec] * 4 + [stage, where])
                                     if prior.context else None)

    def tile_shape(self, h, w):
        """The (height, width, channels) of the pieces an h x w image is coded in: the model's image size
        for a flow with a per-position prior; for a fully convolutional one the whole image, or pieces of at
        most MAX_SIDE, rounded up to multiples of 2**levels (edge padding fills the rest)."""
        flow = self.flow
        if not flow.fully_convolutional:
            return flow.image_shape
        step = 2**flow.levels

        def side(n):
            pieces = -(-n // MAX_SIDE)
            return step * -(-(-(-n // pieces)) // step)

        return side(h), side(w), flow.image_shape[-1]

    @classmethod
    def for_model(cls, name, precision="auto"):
        """The codec of a registered IDF model with its pretrained weights, in `precision` (cached: `candidates`
        needs every one)."""
        with _building:
            codec = cls._published(name)
        return codec if precision == "auto" else codec._sibling(precision)

    @classmethod
    @functools.lru_cache(maxsize=None)
    def _published(cls, name):
        import zoo
        from zoo.idf.model import IntegerDiscreteFlow

        flow = zoo.load(name)
        if not isinstance(flow, IntegerDiscreteFlow):
            raise CodecError(f"'{name}' is not an integer discrete flow; it cannot code images")
        return cls(flow, name)

    @classmethod
    def for_weights(cls, name, weights, precision="auto"):
        """The codec of registered model `name` with the weights file `weights` (a run's, say) instead of its
        published ones; streams record `name` and these weights' tag."""
        import zoo

        flow = zoo.load(name)
        flow.load_weights(weights)
        return cls(flow, name, precision=precision)

    # -- compress ---------------------------------------------------------------------------

    def compress(self, images):
        images, single = _check_images(images)
        n = len(images)
        measure = not single and n > 1  # in a batch, choose per image: the model's bits or the raw pixels
        tile_shape = self.tile_shape(*images.shape[1:3])
        if images.shape[-1] > tile_shape[-1]:
            raise CodecError(f"'{self.name}' codes {tile_shape[-1]}-channel images; these have {images.shape[-1]}")
        coder, bits, escaped = self._encode(_tile(images, tile_shape), measure)
        stored_images = np.zeros(n, bool)
        if measure:
            stored_images = bits.reshape(n, -1).sum(axis=1) >= 8 * images[0].size
            if stored_images.all():
                stored_images[:] = False  # the whole-stream fallback below stores them all
            elif stored_images.any():  # code the others again on their own chunks, as the decoder will
                coder, _, escaped = self._encode(_tile(images[~stored_images], tile_shape), measure=False)
        body = coder.get_compressed().astype("<u4").tobytes()
        mixed = bool(stored_images.any())
        if mixed:
            body = np.packbits(stored_images).tobytes() + images[stored_images].tobytes() + body
        stored = len(body) >= images.size
        header = _Header(self.name, self.tag, 0 if single else n, *images.shape[1:], stored, mixed=mixed and not stored,
                         offsets=self.scale_offsets, precision=self.precision, shifts=self.mean_shifts,
                         version=self._version(escaped and not stored))
        head = header.pack()
        crc = zlib.crc32(images.tobytes(), zlib.crc32(head))
        return head + struct.pack("<I", crc) + (images.tobytes() if stored else body)

    def _encode(self, tiles, measure):
        """(rANS coder holding `tiles`, each tile's bits if `measure`, whether any value escaped its table's
        window), chunk by chunk."""
        coder = constriction.stream.stack.AnsCoder()
        bits = np.zeros(len(tiles)) if measure else None
        escaped = False
        chunk = _chunk(tiles.shape[1:])
        for start in reversed(range(0, len(tiles), chunk)):  # a stack: push the last chunk first
            segments = self._chunk_segments(tiles[start : start + chunk])
            if measure:
                bits[start : start + chunk] = self._tile_bits(segments, len(tiles[start : start + chunk]))
            for low, width, keys, models, values, side in reversed(segments):
                escaped |= _encode_segment(values, low, width, keys, models, coder)
                for symbols, model, _ in reversed(side):  # pushed last: the decoder needs them first
                    coder.encode_reverse(symbols.reshape(-1), model)
        return coder, bits, escaped

    def _chunk_segments(self, tiles):
        """The chunk's latents as (low, width, keys, models, values, side) per segment, in decode order; `side`
        lists the (symbols, model, bits per tile) that precede the segment's values: a split prior's choices
        per block (`_block_choices`). A split prior with context codes a segment per stage: the first under the
        prior, each later one under its context net."""
        splits, z = self._flow(tiles)
        segments = self._last_segments(z)
        for level in reversed(range(len(splits))):
            kept, y = splits[level]
            mean, log_scale = self._params[level](kept)
            values = ops.convert_to_numpy(y)
            first, *later = _stages(values.shape, self._stage_count(level))
            context = [self._context[level](kept, y, mean, log_scale, stage, where) for stage, where in
                       enumerate(later, 1)]
            shift, index, later_index, side = self._block_choices(level, values, mean, log_scale, later, context)
            flat = values.astype(np.int64).reshape(-1)
            keys = self._keys[level](mean, log_scale, index, shift, first)
            segments.append(self._logistic_segment(*keys) + (flat[first], side))
            shifts_at, offsets_at = _flat_blocks(shift, later_index, values.shape) if later else (None, None)
            segments += [self._logistic_segment(*self._shifted_keys(stage_mean, stage_log_scale, shifts_at[where],
                                                                    offsets_at[where])) + (flat[where], [])
                         for (stage_mean, stage_log_scale), where in zip(context, later)]
        return segments

    def _block_choices(self, level, values, mean, log_scale, later, context):
        """(mean shift index, first-stage offset index, later-stage offset index, side information) of split
        `level`'s latent `values`, given its prior's (`mean`, `log_scale`) and its later stages' flat positions
        `later` and context-net parameters there. Only a latent with whole blocks gets any: the mean shifts
        (every stage) where `self.mean_shifts`, the scale offsets where `self.scale_offsets`: the first stage's,
        for the channels it has values in, and with mean shifts also the later stages', one per block and
        channel, each measured on its own stage's values as they are coded (without mean shifts, as streams
        were before them: the first stage's, measured on all the values of its channels under the prior).
        The side information lists (symbols, model, bits per tile) in decode order."""
        shift, index, later_index, side = (mean_shifts.none(values.shape), scale_offsets.none(values.shape),
                                           scale_offsets.none(values.shape), [])
        if not scale_offsets.adapts(*values.shape[1:3]):
            return shift, index, later_index, side
        sent = _first_stage_channels(values.shape[-1], self._stage_count(level))
        if not self.mean_shifts:  # as streams were before them: the prior's widths, 3 bits each
            if self.scale_offsets:
                index[..., :sent] = scale_offsets.choose(*(ops.convert_to_numpy(a)[..., :sent]
                                                           for a in (values, mean, log_scale)))
                bits = np.full(len(values), math.log2(scale_offsets.OFFSETS) * index[0, ..., :sent].size)
                side.append((index[..., :sent], scale_offsets.MODEL, bits))
            return shift, index, later_index, side
        coded_mean, coded_log_scale = _coded_params(mean, log_scale, later, context)
        shift = mean_shifts.choose(values, coded_mean, coded_log_scale)
        coded_mean = coded_mean + scale_offsets.repeat_blocks(mean_shifts.values(shift), *values.shape[1:3])
        side.append((shift, mean_shifts.MODEL, mean_shifts.bits(shift)))
        if not self.scale_offsets:
            return shift, index, later_index, side
        later_mask = _later_mask(values.shape[1:], len(later) + 1) if later else None  # each stage on its own
        first_mask = None if later_mask is None else (1.0 - later_mask)[..., :sent]
        index[..., :sent] = scale_offsets.choose(values[..., :sent], coded_mean[..., :sent],
                                                 coded_log_scale[..., :sent], first_mask, scale_offsets.FIRST_COUNTS)
        side.append((index[..., :sent], scale_offsets.FIRST_MODEL,
                     scale_offsets.information(index[..., :sent], scale_offsets.FIRST_COUNTS)))
        if later:
            later_index = scale_offsets.choose(values, coded_mean, coded_log_scale, later_mask,
                                               scale_offsets.LATER_COUNTS)
            side.append((later_index, scale_offsets.LATER_MODEL,
                         scale_offsets.information(later_index, scale_offsets.LATER_COUNTS)))
        return shift, index, later_index, side

    def _split_context(self, level, kept, mean, log_scale, shifts_at, offsets_at):
        """keys_of(latent, stage, where) of split `level`'s later stages (`_decode_later`), given its kept half,
        its prior's parameters and its flat mean shifts and later-stage scale offsets."""
        return lambda latent, stage, where: self._shifted_keys(
            *self._context[level](kept, latent, mean, log_scale, stage, where), shifts_at[where], offsets_at[where])

    def _later_segments(self, later, values, latent, keys_of):
        """The segments of a latent's stages after the first (`later`, their flat indices), each under the
        tables `keys_of(latent, stage, where)` derives from the stages before (at the stage's flat positions
        `where`); `values` is the latent, flat int64."""
        return [self._logistic_segment(*keys_of(latent, stage, where)) + (values[where], [])
                for stage, where in enumerate(later, 1)]

    def _decode_later(self, coder, later, latent, shape, keys_of):
        """The latent of `shape`, its stages after the first (`later`) decoded into `latent` (flat int64, the
        first stage already in it) as `_later_segments` coded them."""
        for stage, where in enumerate(later, 1):
            seen = ops.convert_to_tensor(latent.astype(np.float32).reshape(shape))
            latent[where] = _decode_segment(*self._logistic_segment(*keys_of(seen, stage, where)), coder)
        return latent.reshape(shape)

    def _stage_count(self, level):
        """How many stages split `level`'s latent is coded in: its prior's with context, else 1."""
        return self.flow.split_priors[level].stages if self._context[level] else 1

    def _tile_bits(self, segments, n):
        """The information content (bits) of each of the `n` tiles of a chunk under the tables that code it."""
        bits = np.zeros(n)
        for low, width, keys, models, values, side in segments:
            for *_, side_bits in side:
                bits += side_bits
            counts = self._prior_counts if models is self._prior_models else self._logistic_counts
            symbols, outside = tables.to_symbols(values, low, width)
            order, groups = _grouped(keys)
            ordered = np.empty(len(keys), np.int64)
            for key, start, end in groups:
                ordered[start:end] = counts[key][symbols[order[start:end]]]
            symbol_bits = np.empty(len(keys))
            symbol_bits[order] = tables.PRECISION - np.log2(ordered)
            if outside.any():
                _, distance = escapes.distances(values[outside], low[outside], width[outside])
                symbol_bits[outside] += escapes.bits(distance)
            bits += symbol_bits.reshape(n, -1).sum(axis=1)
        return bits

    def _last_segments(self, z):
        """The last latent's segments (`_chunk_segments`): one under the last prior's mixtures, or with
        context, the first stage under them and each later one under its context net's tables."""
        values = ops.convert_to_numpy(z).reshape(-1).astype(np.int64)
        low, width, keys, models = self._prior_segment(tuple(z.shape))
        if self._last_context is None:
            return [(low, width, keys, models, values, [])]
        first, *later = _stages(tuple(z.shape), self.flow.prior.stages)
        segments = [(low[first], width[first], keys[first], models, values[first], [])]
        return segments + self._later_segments(later, values, z, self._last_context)

    def _decode_last(self, coder, shape):
        """The last latent of `shape` (int64), as `_last_segments` coded it."""
        low, width, keys, models = self._prior_segment(shape)
        if self._last_context is None:
            return _decode_segment(low, width, keys, models, coder).reshape(shape)
        first, *later = _stages(shape, self.flow.prior.stages)
        z = np.zeros(math.prod(shape), np.int64)
        z[first] = _decode_segment(low[first], width[first], keys[first], models, coder)
        return self._decode_later(coder, later, z, shape, self._last_context)

    def _prior_segment(self, shape):
        """(low, width, keys, models) of a last latent of `shape`: one fixed table per dimension, or per
        channel for a fully convolutional flow."""
        keys = np.tile(np.arange(len(self._prior_models)), math.prod(shape) // len(self._prior_models))
        low = self._prior_low[keys]
        return low, np.full(low.shape, self._prior_width), keys, self._prior_models

    def _logistic_segment(self, base, keys):
        """(low, width, keys, models) of a factored-out latent, from its split prior's table keys."""
        base, keys = ops.convert_to_numpy(base).reshape(-1), ops.convert_to_numpy(keys).reshape(-1)
        present = np.flatnonzero(np.bincount(keys)).tolist()  # the keys present (np.unique, faster)
        if any(key not in self._logistic_models for key in present):
            with _building:
                for key in present:
                    if key not in self._logistic_models:  # a table is complete once its model is in
                        low, counts = tables.logistic_table(key, self._portable)
                        self._bank_low[key], self._bank_width[key] = low, len(counts) - 1
                        self._logistic_counts[key] = counts
                        self._logistic_models[key] = _categorical(counts)
        return base + self._bank_low[keys], self._bank_width[keys], keys, self._logistic_models

    # -- decompress -------------------------------------------------------------------------

    def decompress(self, data, max_pixels=MAX_PIXELS):
        header = _Header.parse(data)
        header.check_size(max_pixels)
        if header.name != self.name:
            raise CodecError(f"stream was made by model '{header.name}', not '{self.name}'")
        if header.tag != self.tag:
            raise CodecError(
                f"stream was made with other weights of '{self.name}' (tag {header.tag.hex()}, "
                f"these are {self.tag.hex()}); decode it with the zoo version that made it"
            )
        if header.precision != self.precision:
            return self._sibling(header.precision).decompress(data, max_pixels)
        payload = data[header.size + 4 :]
        n = max(header.n, 1)
        shape = (n, header.h, header.w, header.c)
        if header.stored:
            if len(payload) != np.prod(shape):
                raise CodecError("stream is truncated or corrupted (stored pixels have the wrong length)")
            return self._checked(np.frombuffer(payload, np.uint8).reshape(shape), header, data)
        images, stored_images = np.empty(shape, np.uint8), np.zeros(n, bool)
        if header.mixed:
            stored_images, raw, payload = _split_mixed(payload, shape)
            images[stored_images] = raw
        import tensorflow as tf

        try:
            images[~stored_images] = self._decode_tiles(payload, (n - int(stored_images.sum()), *shape[1:]),
                                                        header.offsets, header.shifts, header.version)
        except tf.errors.OpError as e:  # e.g. bfloat16 convolutions on a CPU oneDNN has none for
            raise CodecError(f"this machine cannot run the stream's {self.precision} arithmetic "
                             f"(TensorFlow: {type(e).__name__}); {PORTABLE_HINT}") from None
        except CodecError as e:
            raise CodecError(f"{e}{self._hint()}") from None
        return self._checked(images, header, data)

    def _hint(self):
        """What to add to a corrupt-stream error: a stream of a non-portable arithmetic may be sound and only
        decoded on a CPU that sums otherwise."""
        return "" if self._portable else f" (or it was written on a CPU that computes otherwise; {PORTABLE_HINT})"

    def _decode_tiles(self, payload, shape, offsets=True, shifts=True, version=VERSION):
        """The `shape` images whose tiles the rANS words in `payload` hold."""
        if len(payload) % 4:
            raise CodecError("stream is truncated or corrupted (payload is not whole 32-bit words)")
        n, h, w, _ = shape
        th, tw, tc = tile_shape = self.tile_shape(h, w)
        count = -(-h // th) * -(-w // tw) * n
        if count * th * tw * tc * MIN_BITS_PER_DIM > 8 * len(payload) + 64:
            raise CodecError("stream is truncated or corrupted: the header claims more pixels than the payload holds")
        coder = _Decoder(np.frombuffer(payload, "<u4").astype(np.uint32), version)
        chunk = _chunk(tile_shape)
        try:
            tiles = np.concatenate(
                [self._decode_chunk(coder, min(chunk, count - start), tile_shape, offsets, shifts)
                 for start in range(0, count, chunk)]
            )
        except (ValueError, RuntimeError, OverflowError) as e:
            raise CodecError(f"stream is truncated or corrupted ({e})") from None
        if not coder.is_empty():
            raise CodecError("stream is corrupted: data is left over after the last symbol")
        return _untile(tiles, shape)

    def _checked(self, images, header, data):
        """The images, if they pass the stream's CRC32; in the shape that was given to `compress`."""
        crc = struct.unpack_from("<I", data, header.size)[0]
        if zlib.crc32(images.tobytes(), zlib.crc32(data[: header.size])) != crc:
            raise CodecError(f"stream is corrupted: the decoded pixels fail the CRC32 check"
                             f"{'' if header.stored else self._hint()}")
        return images[0] if header.n == 0 else images

    def _decode_split(self, coder, level, kept, offsets, shifts):
        """The factored-out half of split `level` (int64, the shape of its prior's parameters), given the kept half."""
        mean, log_scale = self._params[level](kept)
        stages = self._stage_count(level)
        shape = tuple(mean.shape)
        shift = _decode_blocks(coder, shape, mean_shifts.none, mean_shifts.MODEL) if shifts else mean_shifts.none(shape)
        sent = _first_stage_channels(shape[-1], stages)
        first_model = scale_offsets.FIRST_MODEL if shifts else scale_offsets.MODEL
        index = (_decode_blocks(coder, shape, scale_offsets.none, first_model, sent) if offsets
                 else scale_offsets.none(shape))
        first, *later = _stages(shape, stages)
        later_index = scale_offsets.none(shape)
        if offsets and shifts and later:
            later_index = _decode_blocks(coder, shape, scale_offsets.none, scale_offsets.LATER_MODEL)
        keys = self._keys[level](mean, log_scale, index, shift, first)
        first_values = _decode_segment(*self._logistic_segment(*keys), coder)
        if self._context[level] is None:
            return first_values.reshape(shape)
        y = np.zeros(math.prod(shape), np.int64)
        y[first] = first_values
        keys_of = self._split_context(level, kept, mean, log_scale, *_flat_blocks(shift, later_index, shape))
        return self._decode_later(coder, later, y, shape, keys_of)

    def _decode_chunk(self, coder, n, tile_shape, offsets=True, shifts=True):
        th, tw, tc = tile_shape
        levels = self.flow.levels
        shape = (n, th >> levels, tw >> levels, tc * 2 ** (levels + 1))  # the last latent: 4**L C / 2**(L-1)
        z = ops.convert_to_tensor(self._decode_last(coder, shape).astype(np.float32))
        for level in reversed(range(self.flow.levels)):
            if level < self.flow.levels - 1:
                y = self._decode_split(coder, level, z, offsets, shifts)
                z = ops.concatenate([z, ops.convert_to_tensor(y.astype(np.float32))], axis=-1)
            z = self._level_inverse[level](z)
        return ops.convert_to_numpy(ops.cast(ops.clip(z + 128.0, 0, 255), "uint8"))


@functools.lru_cache(maxsize=16)  # the shapes of one image's latents
def _stages(shape, count):
    """[flat indices of the values of each of `count` coding stages] of a latent of `shape` (N, H, W, C), each
    in the latent's order (`layers.coding_stages`; one stage of every value when `count` is 1)."""
    if count == 1:
        return [np.arange(math.prod(shape))]
    stages = np.broadcast_to(ops.convert_to_numpy(coding_stages(np.zeros((1, *shape[1:]), np.float32), count)), shape)
    return [np.flatnonzero(stages == stage) for stage in range(count)]


def _keys_at(mean, log_scale, where):
    """(base, key) of the logistics (`mean`, `log_scale`) at the flat positions `where` only: a stage's
    symbols, the keys of the others would be thrown away."""
    return tables.logistic_keys(*(ops.take(ops.reshape(t, (-1,)), where) for t in (mean, log_scale)))


def _last_context_keys(prior, z, stage, where):
    """(base, key) of the last latent's values at `where` as stage `stage` codes them, from the last prior's
    context net."""
    return _keys_at(*prior.context_params(z, stage), where)


def _context_params(prior, kept, y, mean, log_scale, stage, where):
    """(mean, log-scale) of a split prior's latent's values at `where`, flat, as stage `stage` codes them, from
    its context net (before mean shifts; no scale offsets)."""
    return tuple(ops.take(ops.reshape(t, (-1,)), where) for t in prior.context_params(kept, y, mean, log_scale, stage))


class _ConcreteGraph:
    """A `tf.function` of one input signature, traced on its first call and then called as its concrete
    function: the same graph, without `tf.function`'s matching of each call's arguments against its traces
    (about 2% of a photograph's coding time over the few dozen calls it makes, `benchmarks/idf_graph_calls.py`).
    AutoGraph is off (`Codec._compile`)."""

    def __init__(self, function, input_signature):
        import tensorflow as tf

        self._function = tf.function(function, input_signature=input_signature, autograph=False)
        self._dtypes = [spec.dtype for spec in input_signature]
        self._convert = tf.convert_to_tensor  # called per argument on the coding path: no import there
        self._concrete = None

    def __call__(self, *args):
        if self._concrete is None:
            self._concrete = self._function.get_concrete_function()
        return self._concrete(*(self._convert(arg, dtype) for arg, dtype in zip(args, self._dtypes)))


def _offset_keys(mean, log_scale, index, shift, where):
    """(base, key) of a split prior's values at `where` (its first stage), its means moved by their blocks'
    shifts (`shift`) and its log-scales by their blocks' offsets (`index`)."""
    height, width = ops.shape(mean)[1], ops.shape(mean)[2]
    return _keys_at(mean + mean_shifts.expand(shift, height, width),
                    log_scale + scale_offsets.expand(index, height, width), where)


def _shifted_keys(mean, log_scale, shift, offset):
    """(base, key) of logistics (`mean` + `shift`, `log_scale` + `offset`), all flat."""
    return tables.logistic_keys(mean + shift, log_scale + offset)


def _coded_params(mean, log_scale, later, context):
    """(mean, log-scale) that code each value of a split prior's latent, as NumPy arrays: the prior's, and at
    the later stages' flat positions `later`, the context net's `context` [(mean, log-scale) there]."""
    mean, log_scale = np.array(mean), np.array(log_scale)
    for where, (stage_mean, stage_log_scale) in zip(later, context):
        mean.reshape(-1)[where], log_scale.reshape(-1)[where] = stage_mean, stage_log_scale
    return mean, log_scale


def _flat_blocks(shift, later_index, shape):
    """(mean shift, later-stage log-scale offset) of every value of a latent of `shape`, flat (float32), from its
    blocks' `shift` and `later_index` indices."""
    h, w = shape[1:3]
    return tuple(scale_offsets.repeat_blocks(per_block, h, w).reshape(-1)
                 for per_block in (mean_shifts.values(shift), scale_offsets.values(later_index)))


@functools.lru_cache(maxsize=16)
def _later_mask(shape, count):
    """1.0 where a latent of `shape` (H, W, C) has values of its later coding stages (of `count`), else 0.0."""
    return (ops.convert_to_numpy(coding_stages(np.zeros((1, *shape), np.float32), count)) > 0).astype(np.float32)


def _decode_blocks(coder, shape, none, model, sent=None):
    """The blocks' indices of a latent of `shape` (`none(shape)` where it has no whole blocks): its first `sent`
    channels' (all by default) decoded from the stream under `model`, the others' left at `none`'s."""
    index = none(shape)
    if scale_offsets.adapts(*shape[1:3]):
        n, rows, cols, channels = index.shape
        sent = channels if sent is None else sent
        index[..., :sent] = coder.decode(model, n * rows * cols * sent).reshape(n, rows, cols, sent)
    return index


@functools.lru_cache(maxsize=16)
def _first_stage_channels(channels, stages):
    """How many of a latent's `channels` (a leading run) have values in the first of its `stages` coding stages
    (all without context): the channels whose blocks get scale offsets."""
    if stages == 1:
        return channels
    first = ops.convert_to_numpy(coding_stages(np.zeros((1, 2, 2, channels), np.float32), stages)) == 0
    return int(first.any(axis=(0, 1, 2)).sum())


def _chunk(tile_shape):
    """Tiles per model call: CHUNK_PIXELS worth, at least one."""
    return max(1, CHUNK_PIXELS // (tile_shape[0] * tile_shape[1]))


@functools.lru_cache(maxsize=None)
def bfloat16_units():
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX-512 BF16, as Linux reports them): where it
    does not, bfloat16 convolutions are emulated, slower than float32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def exact_copy(flow):
    """A copy of `flow` (same config and weights) whose networks compute exactly, as
    `Codec(precision="portable")` runs them (`exact`): the same bits on every machine.

    Example:
        >>> exact_copy(flow)(images)  # bits per dimension in the portable codec's arithmetic
    """
    return exact.prepare(_twin(flow))


def bfloat16_copy(flow, prior_heads="refined"):
    """A copy of `flow` (same config and weights) that runs its networks in bfloat16 as
    `Codec(precision="bfloat16")` does, so the caller's flow keeps its own precision. Its bits per dimension
    are the ideal cost of that codec (`recipes.photo_bits`). `prior_heads="rounded"`: the arithmetic of the
    bfloat16 streams made before the priors' heads were refined (`ROUNDED_PRIORS`).

    Example:
        >>> bfloat16_copy(flow)(images)  # bits per dimension in the bfloat16 codec's arithmetic
    """
    copy = _twin(flow)
    copy.set_mixed_precision(True, heads=True, prior_heads=prior_heads)
    return copy


def _twin(flow):
    """A new flow of `flow`'s config and weights, for a codec to change without touching the caller's."""
    copy = type(flow).from_config(flow.get_config())
    copy.set_weights(flow.get_weights())
    return copy


def _categorical(counts):
    return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)


def _grouped(keys):
    """(order, [(key, start, end)]): `order` sorts the symbols by key; each run shares one model."""
    small = keys.max(initial=0) < 1 << 15  # table keys are: NumPy's stable sort is a radix sort on int16
    order = np.argsort(keys.astype(np.int16) if small else keys, kind="stable")
    counts = np.bincount(keys)
    present = np.flatnonzero(counts)
    ends = np.cumsum(counts[present])
    return order, list(zip(present.tolist(), (ends - counts[present]).tolist(), ends.tolist()))


def _encode_segment(values, low, width, keys, models, coder):
    """Push `values` so that `_decode_segment` pops them: symbols grouped by model, then the escaped values
    (`escapes`); returns whether any value escaped."""
    symbols, outside = tables.to_symbols(values, low, width)
    if outside.any():  # decoded last, so pushed first
        above, distance = escapes.distances(values[outside], low[outside], width[outside])
        if distance.max() >= escapes.LIMIT:
            raise CodecError("a latent is out of the codable range; the model is unsuited to these images")
        escapes.encode(above, distance, coder)
    order, groups = _grouped(keys)
    ordered = symbols[order]
    for key, start, end in reversed(groups):
        coder.encode_reverse(ordered[start:end], models[key])
    return bool(outside.any())


def _decode_segment(low, width, keys, models, coder):
    """The integer values `_encode_segment` pushed (`coder` a `_Decoder`)."""
    order, groups = _grouped(keys)
    decoded = [coder.decode(models[key], end - start) for key, start, end in groups]
    symbols = np.empty(len(keys), np.int32)
    symbols[order] = np.concatenate([np.zeros(0, np.int32), *decoded])
    values = low + symbols
    outside = symbols == width
    if outside.any():
        values[outside] = coder.escaped(low[outside], width[outside])
    return values


class _Decoder:
    """The rANS decoder of a stream's words, which decodes escaped values as the stream's format `version`
    coded them (`escapes.decode`, or before 7 `escapes.decode_raw`)."""

    def __init__(self, words, version):
        coder = constriction.stream.stack.AnsCoder(words)
        self.decode, self.is_empty = coder.decode, coder.is_empty  # bound: no extra call on the hot path
        decode_escapes = escapes.decode if version >= 7 else escapes.decode_raw
        self.escaped = lambda low, width: decode_escapes(low, width, coder)


def _split_mixed(payload, shape):
    """(which images are stored, their raw pixels, the rANS words) of a mixed stream's body."""
    n = shape[0]
    size = -(-n // 8)
    stored_images = np.unpackbits(np.frombuffer(payload[:size], np.uint8)).astype(bool)
    if len(payload) < size or stored_images[n:].any() or stored_images[:n].all() or not stored_images.any():
        raise CodecError("stream is truncated or corrupted (invalid table of stored images)")
    stored_images = stored_images[:n]
    end = size + int(stored_images.sum()) * int(np.prod(shape[1:]))
    if len(payload) < end:
        raise CodecError("stream is truncated or corrupted (stored pixels are missing)")
    raw = np.frombuffer(payload[size:end], np.uint8).reshape(-1, *shape[1:])
    return stored_images, raw, payload[end:]


def _check_images(images):
    """(batch of images, whether a single image was given), after checking dtype and shape."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise CodecError(f"images must be uint8, got {images.dtype}")
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise CodecError(f"images must be (H, W, C) or (N, H, W, C) with C = 1 or 3, got shape {images.shape}")
    if 0 in images.shape:
        raise CodecError(f"nothing to compress: shape {images.shape}")
    return np.ascontiguousarray(images), single


def _tile(images, tile_shape):
    """Edge-pad to multiples of the tile size, repeat gray to RGB, cut into tiles (image-major order)."""
    th, tw, tc = tile_shape
    n, h, w, c = images.shape
    padded = np.pad(images, ((0, 0), (0, -h % th), (0, -w % tw), (0, 0)), mode="edge")
    if c != tc:
        padded = np.repeat(padded, tc // c, axis=-1)
    rows, cols = padded.shape[1] // th, padded.shape[2] // tw
    tiles = padded.reshape(n, rows, th, cols, tw, tc).transpose(0, 1, 3, 2, 4, 5)
    return tiles.reshape(-1, th, tw, tc)


def _untile(tiles, shape):
    n, h, w, c = shape
    th, tw, tc = tiles.shape[1:]
    rows, cols = -(-h // th), -(-w // tw)
    images = tiles.reshape(n, rows, cols, th, tw, tc).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(images.reshape(n, rows * th, cols * tw, tc)[:, :h, :w, :c])


class _Header:
    """The stream's header, 22 bytes for one 32x32 RGB image; n = 0 records that a single (H, W, C) image was given.

        magic "Z" | version | model name (base-40 digits, varint) | 4-byte weights tag
        | flags (RGB, stored, batch, mixed, no offsets, bfloat16, refined priors) | H, W (varints)
        | N (varint, batches only)

    "stored": the body is the raw pixels; "mixed" (a batch only): some images are stored, the rest coded;
    "no offsets": the split priors were coded without their scale offsets per block (`Codec(scale_offsets=False)`);
    "mean shifts": with mean shifts per block (`mean_shifts`), the later stages' scale offsets, and every offset
    under fixed frequencies (`Codec(mean_shifts=False)`: without, the first stage's offsets at 3 bits each, as
    all streams before the flag; the last flag bit free, so the next change of format needs a new version);
    "bfloat16": the flow's networks ran in bfloat16 (`Codec(precision="bfloat16")`); "refined priors" (with
    bfloat16): the priors' mean heads were refined to about float32, as they are from stream flag 64 on;
    a bfloat16 stream without it decodes in the older arithmetic (`ROUNDED_PRIORS`); "refined priors" without
    "bfloat16": the portable arithmetic (`exact`), in format 8 only (and format 8 only with it).
    """

    RGB, STORED, BATCH, MIXED, NO_OFFSETS, BFLOAT16, REFINED_PRIORS, MEAN_SHIFTS = 1, 2, 4, 8, 16, 32, 64, 128  # flags
    _PRECISION_FLAGS = {"float32": 0, ROUNDED_PRIORS: BFLOAT16, "bfloat16": BFLOAT16 | REFINED_PRIORS,
                        "portable": REFINED_PRIORS}  # refined alone: portable, in format 8 only
    _FLAGS_PRECISION = {bits: precision for precision, bits in _PRECISION_FLAGS.items()}

    def __init__(self, name, tag, n, h, w, c, stored, size=None, mixed=False, offsets=True, precision="float32",
                 shifts=True, version=VERSION):
        self.name, self.tag, self.n, self.h, self.w, self.c = name, tag, n, h, w, c
        self.stored, self.mixed, self.size, self.offsets, self.precision = stored, mixed, size, offsets, precision
        self.shifts, self.version = shifts, version

    def pack(self):
        flags = (self.RGB if self.c == 3 else 0) | (self.STORED if self.stored else 0) | (self.BATCH if self.n else 0)
        flags |= (self.MIXED if self.mixed else 0) | (0 if self.offsets else self.NO_OFFSETS)
        flags |= self._PRECISION_FLAGS[self.precision] | (self.MEAN_SHIFTS if self.shifts else 0)
        shape = _varint(self.h) + _varint(self.w) + (_varint(self.n) if self.n else b"")
        return MAGIC + bytes([self.version]) + _varint(_name_number(self.name)) + self.tag + bytes([flags]) + shape

    @classmethod
    def parse(cls, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise CodecError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if data[:1] != MAGIC:
            raise CodecError("not a zoo IDF stream (bad magic)")
        try:
            version = data[2] if data[1:2] == b"I" else data[1]  # format 1 began with "ZI", then its version
            if version not in READS:
                raise CodecError(f"stream format version {version} is not supported (this zoo reads "
                                 f"{' and '.join(map(str, READS))})")
            number, pos = _read_varint(data, 2, max_bytes=26)  # names of up to 32 characters
            name = _number_name(number)
            tag, flags = data[pos : pos + 4], data[pos + 4]
            h, pos = _read_varint(data, pos + 5, max_bytes=5)
            w, pos = _read_varint(data, pos, max_bytes=5)
            n, pos = _read_varint(data, pos, max_bytes=5) if flags & cls.BATCH else (0, pos)
        except (IndexError, UnicodeDecodeError):
            raise CodecError("stream is truncated or corrupted (incomplete header)") from None
        mixed = bool(flags & cls.MIXED)
        precision = cls._FLAGS_PRECISION.get(flags & (cls.BFLOAT16 | cls.REFINED_PRIORS))
        if (precision == "portable") != (version == PORTABLE_VERSION) or (flags & cls.BATCH and n == 0) \
                or h == 0 or w == 0 or len(data) < pos + 4 or (mixed and (n < 2 or flags & cls.STORED)):
            raise CodecError("stream is truncated or corrupted (invalid header)")
        return cls(name, tag, n, h, w, 3 if flags & cls.RGB else 1, bool(flags & cls.STORED), size=pos, mixed=mixed,
                   offsets=not flags & cls.NO_OFFSETS, precision=precision, shifts=bool(flags & cls.MEAN_SHIFTS),
                   version=version)

    def check_size(self, max_pixels):
        pixels = max(self.n, 1) * self.h * self.w
        if max_pixels is not None and pixels > max_pixels:
            raise CodecError(
                f"stream claims {max(self.n, 1)} x {self.h} x {self.w} = {pixels:,} pixels, above the limit of "
                f"{max_pixels:,}; pass max_pixels=None (or a larger limit) to decode it if you trust it"
            )


_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-._"  # digit 0 ends a name: 40 symbols
_NAME_CHARS = re.compile("[^a-z0-9._-]")


def _name_number(name):
    """A model name as one integer of base-40 digits (idf-cifar10: 9 bytes as a varint, 12 as ASCII)."""
    if not name or any(ch not in _NAME_ALPHABET for ch in name):
        raise CodecError(f"model name {name!r} cannot be recorded: use lower-case letters, digits, '-', '.', '_'")
    return sum((_NAME_ALPHABET.index(ch) + 1) * 40**i for i, ch in enumerate(name))


def _number_name(number):
    chars = []
    while number:
        number, digit = divmod(number, 40)
        if digit == 0:
            raise CodecError("stream is truncated or corrupted (invalid model name)")
        chars.append(_NAME_ALPHABET[digit - 1])
    return "".join(chars)


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data, pos, max_bytes):
    value = shift = 0
    for _ in range(max_bytes):
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos
    raise CodecError("stream is truncated or corrupted (a header number is too long)")
