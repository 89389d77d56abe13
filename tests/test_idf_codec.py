"""The IDF codec: bit-exact round trips on any image, payload near the model's ideal bits, bad streams rejected."""

import numpy as np
import pytest
from conftest import needs_data

import zoo
from zoo import data, manifest
from zoo.idf import Codec, CodecError, IntegerDiscreteFlow, compress, decompress
from zoo.idf.codec import _Header

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def codec():
    """A small flow with jolted weights, so every layer does real work."""
    flow = IntegerDiscreteFlow(width=16, flows_per_level=2, mixtures=3)
    rng = np.random.default_rng(1)
    for w in flow.trainable_weights:  # not the permutations
        w.assign(w.numpy() + rng.normal(0, 0.02, w.shape).astype("float32"))
    return Codec(flow, "idf-cifar10")


def _smooth(shape):
    """A smooth image (low bpd), which the coder must handle as exactly as noise."""
    h, w = shape[-3:-1]
    yy, xx = np.mgrid[:h, :w]
    base = (128 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0))[..., None]
    return np.broadcast_to(base, shape).astype(np.uint8)


@pytest.mark.parametrize("shape", [(32, 32, 3), (4, 32, 32, 3), (1, 1, 3), (1, 1, 1), (37, 70, 1), (2, 33, 31, 3), (64, 96, 3)])
def test_round_trip_is_bit_exact(codec, shape):
    for images in (RNG.integers(0, 256, shape).astype(np.uint8), _smooth(shape)):
        out = codec.decompress(codec.compress(images))
        assert out.dtype == np.uint8 and out.shape == images.shape
        np.testing.assert_array_equal(out, images)


@needs_data
def test_round_trip_on_cifar10_test_images(codec):
    images, _ = next(iter(data.load("cifar10", "test").batch(50)))
    images = images.numpy()
    np.testing.assert_array_equal(codec.decompress(codec.compress(images)), images)
    for image in images[:3]:
        np.testing.assert_array_equal(codec.decompress(codec.compress(image)), image)


def test_batch_payload_is_within_one_percent_of_the_ideal_bits(codec):
    images = np.stack([_smooth((32, 32, 3)) + RNG.integers(0, 8, (32, 32, 3)).astype(np.uint8) for _ in range(64)])
    ideal_bits = float(np.sum(codec.flow(images))) * images[0].size
    stream = codec.compress(images)
    payload_bits = (len(stream) - _Header.parse(stream).size - 4) * 8  # less the header and the CRC
    assert payload_bits < 1.01 * ideal_bits
    assert payload_bits > 0.99 * ideal_bits  # and not better than possible: the model is the code


def test_corrupted_stream_is_rejected(codec):
    images = RNG.integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    stream = bytearray(codec.compress(images))
    for position in (len(stream) // 2, len(stream) - 3, 30):
        bad = bytearray(stream)
        bad[position] ^= 0x10
        with pytest.raises(CodecError):
            codec.decompress(bytes(bad))


@pytest.mark.parametrize("cut", [1, 4, 100, 1000])
def test_truncated_stream_is_rejected(codec, cut):
    stream = codec.compress(RNG.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    with pytest.raises(CodecError, match="truncated|corrupted"):
        codec.decompress(stream[:-cut])


def test_foreign_streams_are_rejected(codec):
    other = IntegerDiscreteFlow(width=16, flows_per_level=2, mixtures=3)
    stream = Codec(other, "idf-cifar10").compress(RNG.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    with pytest.raises(CodecError, match="other weights"):
        codec.decompress(stream)
    with pytest.raises(CodecError, match="made by model 'idf-other'"):
        codec.decompress(Codec(other, "idf-other").compress(np.zeros((32, 32, 3), np.uint8)))
    with pytest.raises(CodecError, match="bad magic"):
        codec.decompress(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(CodecError, match="expected bytes"):
        codec.decompress(np.zeros(10))
    with pytest.raises(CodecError, match="format version 1 is not supported"):
        codec.decompress(b"ZI\x01" + stream[2:])  # a stream of the first, 27-byte-header format
    with pytest.raises(CodecError, match="format version 2 is not supported"):
        codec.decompress(b"Z\x02" + stream[2:])  # its tables were picked in float64: refused, not misdecoded
    with pytest.raises(CodecError, match="format version 3 is not supported"):
        codec.decompress(b"Z\x03" + stream[2:])  # its thin heads summed their taps in another order
    with pytest.raises(CodecError, match="format version 4 is not supported"):
        codec.decompress(b"Z\x04" + stream[2:])  # it had no scale offsets: its tables were keyed otherwise
    with pytest.raises(CodecError, match="cannot be recorded"):
        Codec(other, "IDF Cifar")


def test_header_of_one_cifar_image_is_22_bytes_and_parses_back(codec):
    header = _Header("idf-cifar10", b"\x01\x02\x03\x04", 0, 32, 32, 3, False)
    packed = header.pack()
    assert len(packed) + 4 == 22  # with the CRC32: magic 1, version 1, name 9, tag 4, flags 1, H 1, W 1
    again = _Header.parse(packed + bytes(4))
    assert (again.name, again.tag, again.n, again.h, again.w, again.c, again.stored) == ("idf-cifar10", header.tag, 0, 32, 32, 3, False)
    batch = _Header.parse(_Header("a.b_c-9", b"tag!", 300, 1, 70000, 1, True).pack() + bytes(4))
    assert (batch.name, batch.n, batch.h, batch.w, batch.c, batch.stored) == ("a.b_c-9", 300, 1, 70000, 1, True)


@pytest.mark.parametrize("images, message", [
    (np.zeros((32, 32, 3), np.float32), "must be uint8"),
    (np.zeros((32, 32, 3), np.int64), "must be uint8"),
    (np.zeros((32, 32, 2), np.uint8), "C = 1 or 3"),
    (np.zeros((32, 32), np.uint8), "C = 1 or 3"),
    (np.zeros((0, 32, 32, 3), np.uint8), "nothing to compress"),
])
def test_bad_input_is_refused(codec, images, message):
    with pytest.raises(CodecError, match=message):
        codec.compress(images)


published = pytest.mark.skipif(manifest.entry("idf-cifar10") is None, reason="idf-cifar10 has no checkpoint yet")


@published
def test_public_api_with_the_pretrained_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    images = RNG.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    np.testing.assert_array_equal(decompress(compress(images)), images)
    assert decompress(compress(images[0])).shape == (32, 32, 3)


@published
def test_save_load_gives_identical_latents(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from zoo import checkpoint

    model = zoo.load("idf-cifar10")
    checkpoint.save(model, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    images = RNG.integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    for a, b in zip(*(m.latents(images)[0] + [m.latents(images)[1]] for m in (model, again))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_table_bank_costs_under_a_tenth_of_a_percent():
    from zoo.idf import tables
    from zoo.idf.distributions import discretized_logistic_logp

    n = 50_000
    mean = RNG.normal(0, 30, n).astype(np.float32)
    log_scale = RNG.uniform(-1, 4, n).astype(np.float32)
    x = np.round(mean + RNG.logistic(0, np.exp(log_scale))).astype(np.float32)
    exact_bits = -np.asarray(discretized_logistic_logp(x, mean, log_scale)).sum() / np.log(2)
    base, keys = (np.asarray(a) for a in tables.logistic_keys(mean, log_scale))
    table_bits = 0.0
    for key in np.unique(keys):
        index = np.flatnonzero(keys == key)
        low, counts = tables.logistic_table(key)
        assert counts.sum() == tables.TOTAL and counts.min() >= 1
        symbols, outside = tables.to_symbols(x[index] - base[index], low, len(counts) - 1)
        table_bits += np.sum(-np.log2(counts[symbols] / tables.TOTAL) + 32 * outside)
    assert exact_bits <= table_bits < 1.001 * exact_bits


@pytest.mark.parametrize("scale, tables_per_level", [(0.5, 32), (1.5, 16), (4.0, 4), (40.0, 1)])
def test_wider_logistics_share_tables_across_the_mean_s_fractions(scale, tables_per_level):
    """The mean's fraction grid coarsens with the scale (`tables.fraction_step`): fewer tables, fewer coder calls;
    each table is centred on its bin, so a snapped mean is off by at most half a bin."""
    from zoo.idf import tables

    mean = np.linspace(0.0, 1.0, 512, endpoint=False, dtype=np.float32) + 7.0
    log_scale = np.full_like(mean, np.log(scale))
    base, keys = (np.asarray(a) for a in tables.logistic_keys(mean, log_scale))
    assert len(np.unique(keys)) == tables_per_level
    for m, b, key in zip(mean, base, keys):
        level, fraction = divmod(int(key), tables.FRACTIONS)
        step = tables.fraction_step(level)
        centre = b + (fraction + 0.5 * step) / tables.FRACTIONS
        assert fraction % step == 0 and abs(m - centre) <= 0.5 * step / tables.FRACTIONS + 1e-6


def test_checkpoint_of_a_compiled_trained_flow_reloads(tmp_path):
    """A compiled flow also holds metric variables; the checkpoint must hold the layers' weights only."""
    from zoo import checkpoint
    from zoo.idf.recipes import CIFAR10_RECIPE

    flow = IntegerDiscreteFlow(width=8, flows_per_level=1, mixtures=2)
    flow.compile(optimizer="adam", loss=CIFAR10_RECIPE.loss, metrics=list(CIFAR10_RECIPE.metrics))
    images = RNG.integers(0, 256, (8, 32, 32, 3)).astype(np.uint8)
    flow.fit(images, np.zeros(8), batch_size=4, epochs=1, verbose=0)
    checkpoint.save(flow, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    np.testing.assert_array_equal(np.asarray(again(images)), np.asarray(flow(images)))


def test_compiled_graphs_trace_once_and_take_any_batch_size_and_numpy_input():
    import tensorflow as tf

    from zoo.idf.codec import _ConcreteGraph

    traces = []

    def double(x, scale):
        traces.append(1)
        return x * scale

    graph = _ConcreteGraph(double, [tf.TensorSpec((None, 2), tf.float32), tf.TensorSpec((), tf.float32)])
    for n in (1, 3, 5):
        out = graph(np.arange(2 * n, dtype=np.int64).reshape(n, 2), 2)  # converted to the signature's dtypes
        assert out.dtype == tf.float32
        np.testing.assert_array_equal(out.numpy(), 2.0 * np.arange(2 * n).reshape(n, 2))
    assert len(traces) == 1
