"""A lossless image codec: the integer flow's latents, entropy coded with rANS (`constriction`).

Any uint8 image (H, W, C) with C in {1, 3}, or a batch (N, H, W, C), becomes
one byte stream. Images are edge-padded to multiples of the model's input size
and cut into tiles; grayscale is coded as three equal channels. The stream:

    magic "ZI" | version | model name | 4-byte weights tag | N, H, W (varints) | mode+C | CRC32 | body

The body is the rANS words, or, in the rare case where that would be larger
(a tiny image padded to a whole tile), the raw pixels ("stored" mode). The CRC32 covers the header and the original pixels and is checked after
decoding, so a corrupted, truncated or foreign stream raises `CodecError`
rather than returning wrong pixels.

Example:
    >>> from zoo import idf
    >>> data = idf.compress(image)                # uint8 (H, W, 3) or (N, H, W, C)
    >>> np.array_equal(idf.decompress(data), image)
    True
"""

import functools
import hashlib
import struct
import zlib

import constriction
import numpy as np
from keras import ops

from zoo.errors import ZooError
from zoo.idf import tables

MAGIC = b"ZI"
VERSION = 1
CHUNK = 128  # tiles per model call; encoder and decoder use the same chunks, so their floats agree

_family = constriction.stream.model.Categorical(perfect=False)
_raw16 = constriction.stream.model.Uniform(1 << 16)


class CodecError(ZooError):
    """A stream that cannot be decoded to the exact pixels it was made from."""


def compress(images, model="idf-cifar10"):
    """Losslessly code uint8 `images` ((H, W, C) or (N, H, W, C), C = 1 or 3) as bytes."""
    return Codec.for_model(model).compress(images)


def decompress(data):
    """The exact uint8 array that `compress` coded into `data`."""
    header = _Header.parse(data)
    return Codec.for_model(header.name).decompress(data)


class Codec:
    """Codes images with one `IntegerDiscreteFlow`; `name` is what streams record to find it again."""

    def __init__(self, flow, name):
        self.flow, self.name = flow, name
        digest = hashlib.sha256()
        for w in flow.get_weights():
            digest.update(np.ascontiguousarray(w).tobytes())
        self.tag = digest.digest()[:4]
        means, log_scales, logits = (ops.convert_to_numpy(p) for p in flow.prior.params())
        k = means.shape[-1]
        self._prior_low, counts = tables.mixture_tables(
            means.reshape(-1, k), log_scales.reshape(-1, k), logits.reshape(-1, k)
        )
        self._prior_width = counts.shape[1] - 1
        self._prior_models = [_categorical(row) for row in counts]
        self._logistic_models = {}  # table key -> (low, width, Categorical), built on first use

    @classmethod
    @functools.lru_cache(maxsize=4)
    def for_model(cls, name):
        """The codec of a registered IDF model with its pretrained weights (cached)."""
        import zoo
        from zoo.idf.model import IntegerDiscreteFlow

        flow = zoo.load(name)
        if not isinstance(flow, IntegerDiscreteFlow):
            raise CodecError(f"'{name}' is not an integer discrete flow; it cannot code images")
        return cls(flow, name)

    # -- compress ---------------------------------------------------------------------------

    def compress(self, images):
        images, single = _check_images(images)
        tiles = _tile(images, self.flow.image_shape)
        coder = constriction.stream.stack.AnsCoder()
        starts = list(range(0, len(tiles), CHUNK))
        for start in reversed(starts):  # a stack: push the last chunk first, so the first decodes first
            self._encode_chunk(tiles[start : start + CHUNK], coder)
        body = coder.get_compressed().astype("<u4").tobytes()
        stored = len(body) >= images.size
        header = _Header(self.name, self.tag, images.shape[0] if not single else 0, *images.shape[1:], stored)
        head = header.pack()
        crc = zlib.crc32(images.tobytes(), zlib.crc32(head))
        return head + struct.pack("<I", crc) + (images.tobytes() if stored else body)

    def _encode_chunk(self, tiles, coder):
        splits, z = self.flow.flow(tiles)
        segments = [("prior", ops.convert_to_numpy(z))]  # in decode order
        for level in reversed(range(len(splits))):
            kept, y = splits[level]
            mean, log_scale = self.flow.split_priors[level].params(kept)
            segments.append(("split", ops.convert_to_numpy(y), ops.convert_to_numpy(mean), ops.convert_to_numpy(log_scale)))
        for kind, *arrays in reversed(segments):
            if kind == "prior":
                self._encode_prior(arrays[0], coder)
            else:
                self._encode_logistic(*arrays, coder)

    def _encode_prior(self, z, coder):
        columns = z.reshape(len(z), -1)
        for d in reversed(range(columns.shape[1])):
            symbols, outside = tables.to_symbols(columns[:, d], self._prior_low[d], self._prior_width)
            _encode_raw(columns[outside, d], coder)
            coder.encode_reverse(symbols, self._prior_models[d])

    def _encode_logistic(self, values, mean, log_scale, coder):
        values = values.reshape(-1).astype(np.int64)
        base, groups = _groups(mean, log_scale)
        for key, index in reversed(groups):
            low, width, model = self._logistic_model(key)
            relative = values[index] - base[index]
            symbols, outside = tables.to_symbols(relative, low, width)
            _encode_raw(relative[outside], coder)
            coder.encode_reverse(symbols, model)

    def _decode_logistic(self, mean, log_scale, coder):
        values = np.empty(mean.size, np.float32)
        base, groups = _groups(mean, log_scale)
        for key, index in groups:
            low, width, model = self._logistic_model(key)
            symbols = coder.decode(model, len(index))
            values[index] = base[index] + _from_symbols(symbols, low, width, coder)
        return values.reshape(mean.shape)

    def _logistic_model(self, key):
        if key not in self._logistic_models:
            low, counts = tables.logistic_table(key)
            self._logistic_models[key] = (low, len(counts) - 1, _categorical(counts))
        return self._logistic_models[key]

    # -- decompress -------------------------------------------------------------------------

    def decompress(self, data):
        header = _Header.parse(data)
        if header.name != self.name:
            raise CodecError(f"stream was made by model '{header.name}', not '{self.name}'")
        if header.tag != self.tag:
            raise CodecError(
                f"stream was made with other weights of '{self.name}' (tag {header.tag.hex()}, "
                f"these are {self.tag.hex()}); decode it with the zoo version that made it"
            )
        payload = data[header.size + 4 :]
        n = max(header.n, 1)
        shape = (n, header.h, header.w, header.c)
        if header.stored:
            if len(payload) != np.prod(shape):
                raise CodecError("stream is truncated or corrupted (stored pixels have the wrong length)")
            return self._checked(np.frombuffer(payload, np.uint8).reshape(shape), header, data)
        if len(payload) % 4:
            raise CodecError("stream is truncated or corrupted (payload is not whole 32-bit words)")
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(payload, "<u4").astype(np.uint32))
        count = len(_tile(np.zeros((1, *shape[1:]), np.uint8), self.flow.image_shape)) * n
        try:
            tiles = np.concatenate(
                [self._decode_chunk(coder, min(CHUNK, count - start)) for start in range(0, count, CHUNK)]
            )
        except (ValueError, RuntimeError, OverflowError) as e:
            raise CodecError(f"stream is truncated or corrupted ({e})") from None
        if not coder.is_empty():
            raise CodecError("stream is corrupted: data is left over after the last symbol")
        return self._checked(_untile(tiles, shape), header, data)

    @staticmethod
    def _checked(images, header, data):
        """The images, if they pass the stream's CRC32; in the shape that was given to `compress`."""
        crc = struct.unpack_from("<I", data, header.size)[0]
        if zlib.crc32(images.tobytes(), zlib.crc32(data[: header.size])) != crc:
            raise CodecError("stream is corrupted: the decoded pixels fail the CRC32 check")
        return images[0] if header.n == 0 else images

    def _decode_chunk(self, coder, n):
        z = self._decode_prior(coder, n)
        for level in reversed(range(self.flow.levels)):
            if level < self.flow.levels - 1:
                split = self.flow.split_priors[level]
                mean, log_scale = (ops.convert_to_numpy(p) for p in split.params(z))
                y = self._decode_logistic(mean, log_scale, coder)
                z = ops.concatenate([z, ops.convert_to_tensor(y, "float32")], axis=-1)
            z = self.flow.level_inverse(level, z)
        return ops.convert_to_numpy(ops.cast(ops.clip(z + 128.0, 0, 255), "uint8"))

    def _decode_prior(self, coder, n):
        columns = np.empty((n, len(self._prior_models)), np.float32)
        for d, model in enumerate(self._prior_models):
            symbols = coder.decode(model, n)
            columns[:, d] = _from_symbols(symbols, self._prior_low[d], self._prior_width, coder)
        shape = self.flow.prior.means.shape[:-1]
        return ops.convert_to_tensor(columns.reshape(n, *shape))


def _categorical(counts):
    return constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)


def _groups(mean, log_scale):
    """(base per symbol, [(table key, flat indices)] with keys ascending): the symbols that share a table."""
    base, keys = tables.logistic_keys(mean.reshape(-1), log_scale.reshape(-1))
    order = np.argsort(keys, kind="stable")
    unique, starts = np.unique(keys[order], return_index=True)
    return base, list(zip(unique.tolist(), np.split(order, starts[1:])))


def _encode_raw(values, coder):
    """Escaped values, as two 16-bit halves of value + 2**31."""
    if len(values):
        shifted = values.astype(np.int64) + tables.RAW_OFFSET
        if shifted.min() < 0 or shifted.max() >= 1 << 32:
            raise CodecError("a latent is out of the codable range; the model is unsuited to these images")
        halves = np.stack([shifted >> 16, shifted & 0xFFFF], axis=1).reshape(-1).astype(np.int32)
        coder.encode_reverse(halves, _raw16)


def _from_symbols(symbols, low, width, coder):
    """Integer values of decoded window symbols, reading the raw value of each escape."""
    values = (low + symbols).astype(np.int64)
    outside = symbols == width
    if outside.any():
        halves = coder.decode(_raw16, 2 * int(outside.sum())).astype(np.int64).reshape(-1, 2)
        values[outside] = (halves[:, 0] << 16) + halves[:, 1] - tables.RAW_OFFSET
    return values.astype(np.float32)


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
    """The stream's header: n = 0 records that a single (H, W, C) image was given."""

    STORED = 0x80  # flag in the channels byte: the body is raw pixels

    def __init__(self, name, tag, n, h, w, c, stored, size=None):
        self.name, self.tag, self.n, self.h, self.w, self.c = name, tag, n, h, w, c
        self.stored, self.size = stored, size

    def pack(self):
        name = self.name.encode("ascii")
        return (
            MAGIC + bytes([VERSION, len(name)]) + name + self.tag
            + _varint(self.n) + _varint(self.h) + _varint(self.w) + bytes([self.c | (self.STORED if self.stored else 0)])
        )

    @classmethod
    def parse(cls, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise CodecError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if data[:2] != MAGIC:
            raise CodecError("not a zoo IDF stream (bad magic)")
        try:
            if data[2] != VERSION:
                raise CodecError(f"stream format version {data[2]} is not supported (this zoo reads {VERSION})")
            end = 4 + data[3]
            name = data[4:end].decode("ascii")
            tag = data[end : end + 4]
            n, pos = _read_varint(data, end + 4)
            h, pos = _read_varint(data, pos)
            w, pos = _read_varint(data, pos)
            c, stored = data[pos] & ~cls.STORED, bool(data[pos] & cls.STORED)
        except (IndexError, UnicodeDecodeError):
            raise CodecError("stream is truncated or corrupted (incomplete header)") from None
        if len(tag) != 4 or c not in (1, 3) or h == 0 or w == 0 or len(data) < pos + 5:
            raise CodecError("stream is truncated or corrupted (invalid header)")
        return cls(name, tag, n, h, w, c, stored, size=pos + 1)


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos
