"""The portable codec (`Codec(precision="portable")`, `zoo/idf/exact.py`): its convolutions equal exact integer
arithmetic, its exp and tables use only correctly rounded operations, its streams (format 8) round trip bit for
bit, decode the same where TensorFlow runs other kernels, and cost what float32's do."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from zoo.idf import Codec, exact, tables
from zoo.idf import codec as codec_module
from zoo.idf.codec import CodecError, _Header, exact_copy
from test_idf_whole_image import _flow, _photo

RNG = np.random.default_rng(0)


def test_exp_is_within_two_ulps_of_e_to_the_x():
    x = np.concatenate([np.linspace(-700.0, 700.0, 100_001), RNG.normal(scale=5.0, size=10_000)])
    reference = np.exp(x)
    assert np.all(np.abs(exact.exp(x) - reference) <= 2 * np.spacing(reference))
    assert exact.exp(np.array([0.0]))[0] == 1.0


def test_sigmoid_is_a_cdf():
    x = np.linspace(-40.0, 40.0, 8001)
    s = exact.sigmoid(x)
    assert np.all(np.diff(s) >= 0) and s[0] > 0 and s[-1] == 1.0
    np.testing.assert_allclose(s, 1.0 / (1.0 + np.exp(-x)), rtol=1e-14)


def _integer_reference(x, kernel, exponent, bias, bits):
    """`exact.conv` in int64 NumPy: the exact value it must equal."""
    top = np.abs(x).reshape(len(x), -1).max(axis=1)
    limit = 2 ** (bits - 1) - 1
    scale = np.array([max(k for k in exact.EXPONENTS if t * 2.0**k <= limit) for t in top])
    xq = np.round(x * np.ldexp(1.0, scale)[:, None, None, None]).astype(np.int64)
    kh, kw = kernel.shape[:2]
    padded = np.pad(xq, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    h, w = x.shape[1:3]
    total = sum(np.einsum("nhwc,cd->nhwd", padded[:, i : i + h, j : j + w], kernel[i, j].astype(np.int64))
                for i in range(kh) for j in range(kw))
    grid = np.ldexp(1.0, scale[:, None, None, None] + exponent)
    bias_units = np.round(bias.astype(np.float64) * grid).astype(np.int64)
    return (total + bias_units).astype(np.float64) / grid


@pytest.mark.parametrize("cin, magnitude", [(3, 1.0), (12, 300.0), (64, 1e-3), (128, 5e4)])
def test_conv_equals_integer_arithmetic(cin, magnitude):
    """The float64 convolution of integers is their exact sum (below 2**53 in any order), so any machine gets
    these bits."""
    x = (RNG.normal(size=(2, 9, 7, cin)) * magnitude).astype(np.float32)
    x[1] *= 7.0  # each example its own scale
    kernel, exponent = exact.integer_kernel(RNG.normal(scale=0.1, size=(3, 3, cin, 5)))
    bias = RNG.normal(size=5).astype(np.float32)
    bits = exact.input_bits(9 * cin)
    out = ops.convert_to_numpy(exact.conv(x, kernel, exponent, bias, bits))
    np.testing.assert_array_equal(out, _integer_reference(x.astype(np.float64), kernel, exponent, bias, bits))


@pytest.mark.parametrize("fan_in", [9, 81, 1152, 2160, 4096])
def test_the_sums_stay_exact_at_their_bounds(fan_in):
    bits = exact.input_bits(fan_in)
    largest_sum = (2 ** (bits - 1) - 1) * (2 ** (exact.WEIGHT_BITS - 1)) * fan_in
    assert largest_sum < 2**53 and bits >= 16


def test_integer_kernels_keep_twenty_bits_per_output_channel():
    kernel = RNG.normal(size=(3, 3, 4, 6)) * np.array([1e-4, 1e-2, 1.0, 10.0, 1e3, 0.0])
    integers, exponent = exact.integer_kernel(kernel)
    top = np.abs(integers).reshape(-1, 6).max(axis=0)
    assert np.all(top[:5] >= 2**18) and np.all(top < 2**19) and top[5] == 0
    assert np.all(np.abs(integers * np.ldexp(1.0, -exponent) - kernel) <= 0.5 * np.ldexp(1.0, -exponent))  # rounded


@pytest.mark.parametrize("key", [0, 40 * tables.FRACTIONS + 7, 48 * tables.FRACTIONS, 120 * tables.FRACTIONS + 16,
                                 (tables.SCALE_LEVELS - 1) * tables.FRACTIONS])
def test_portable_tables_are_distributions_like_the_others(key):
    low, counts = tables.logistic_table(key, portable=True)
    other_low, other = tables.logistic_table(key)
    assert low == other_low and counts.sum() == tables.TOTAL and counts.min() >= 1
    assert np.abs(counts - other).max() <= 2


def test_portable_mixture_tables_are_distributions_like_the_others():
    means, log_scales, logits = RNG.normal(scale=20, size=(6, 5)), RNG.normal(size=(6, 5)) + 2, RNG.normal(size=(6, 5))
    low, counts = tables.mixture_tables(means, log_scales, logits, portable=True)
    other_low, other = tables.mixture_tables(means, log_scales, logits)
    np.testing.assert_array_equal(low, other_low)
    assert np.all(counts.sum(axis=1) == tables.TOTAL) and np.abs(counts - other).max() <= 2


@pytest.fixture(scope="module")
def flow():
    return _flow(3, seed=3, context=8, context_stages=4, last_context=8)


@pytest.fixture(scope="module")
def codecs(flow):
    return {p: Codec(flow, "test-portable", precision=p) for p in ("float32", "portable")}


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 9, 3), (1, 300, 3), (2, 36, 52, 3), (40, 72, 1)])
def test_portable_streams_round_trip_bit_exactly_as_format_8(codecs, shape):
    image = _photo(shape, seed=5)
    data = codecs["portable"].compress(image)
    header = _Header.parse(data)
    assert header.precision == "portable" and header.version == codec_module.PORTABLE_VERSION
    np.testing.assert_array_equal(codecs["portable"].decompress(data), image)
    np.testing.assert_array_equal(codecs["float32"].decompress(data), image)  # the stream picks the arithmetic


def test_portable_costs_about_what_float32_does(codecs):
    image = _photo((64, 96, 3), seed=6)
    sizes = {p: len(c.compress(image)) for p, c in codecs.items()}
    assert abs(sizes["portable"] - sizes["float32"]) < 0.01 * sizes["float32"]


def test_the_exact_copy_computes_what_the_flow_does(flow):
    image = ops.convert_to_tensor(_photo((2, 32, 48, 3), seed=8))
    bits, exact_bits = (float(ops.mean(f(image))) for f in (flow, exact_copy(flow)))
    assert abs(exact_bits - bits) < 1e-3 * bits
    assert not any(getattr(layer, "exact", False) for layer in flow._flatten_layers())  # the caller's flow


def test_nets_with_group_normalization_are_refused():
    with pytest.raises(ValueError, match="norm_groups"):
        exact_copy(_flow(3, seed=1, norm_groups=4))


@pytest.mark.parametrize("version", [6, 7])
def test_the_portable_flag_needs_format_8_and_format_8_the_flag(codecs, version):
    portable = bytearray(codecs["portable"].compress(_photo((8, 8, 3))))
    portable[1] = version
    with pytest.raises(CodecError, match="invalid header"):
        codecs["portable"].decompress(bytes(portable))
    other = bytearray(codecs["float32"].compress(_photo((8, 8, 3))))
    other[1] = codec_module.PORTABLE_VERSION
    with pytest.raises(CodecError, match="invalid header"):
        codecs["float32"].decompress(bytes(other))


_DECODE = """
import sys, numpy as np
from zoo.idf import decompress
np.save(sys.argv[1] + ".npy", decompress(open(sys.argv[1], "rb").read()))
"""


@pytest.mark.parametrize("environment", [{"ONEDNN_MAX_CPU_ISA": "AVX2"}, {"TF_ENABLE_ONEDNN_OPTS": "0"}])
def test_published_portable_streams_decode_the_same_with_other_kernels(tmp_path, environment):
    """oneDNN held to AVX2, or TensorFlow's own kernels instead of oneDNN's: other sums in other orders,
    which bfloat16 and float32 streams do not survive on this machine (`benchmarks/idf_portability.py`)."""
    image = _photo((64, 96, 3), seed=7)
    path = tmp_path / "portable.idf"
    path.write_bytes(Codec.for_model("idf-photos", "portable").compress(image))
    subprocess.run([sys.executable, "-c", _DECODE, str(path)], check=True, timeout=300,
                   env={**os.environ, **environment})
    np.testing.assert_array_equal(np.load(str(path) + ".npy"), image)


def test_a_corrupt_stream_says_portable_streams_decode_anywhere_unless_it_is_one(codecs):
    """A float32 or bfloat16 stream that fails may be sound and only decoded on a CPU that sums otherwise."""
    for precision, hinted in (("float32", True), ("portable", False)):
        data = bytearray(codecs[precision].compress(_photo((32, 32, 3), seed=9)))
        data[-8] ^= 0x10
        with pytest.raises(CodecError, match="corrupted") as error:
            codecs[precision].decompress(bytes(data))
        assert ("precision='portable'" in str(error.value)) == hinted


def test_a_tensorflow_failure_while_decoding_is_a_codec_error(codecs, monkeypatch):
    import tensorflow as tf

    data = codecs["float32"].compress(_photo((32, 32, 3), seed=9))

    def unsupported(*args):
        raise tf.errors.AbortedError(None, None, "no bfloat16 kernels here")

    monkeypatch.setattr(codecs["float32"], "_decode_tiles", unsupported)
    with pytest.raises(CodecError, match="cannot run the stream's float32 arithmetic"):
        codecs["float32"].decompress(data)


@pytest.mark.parametrize("name, fixture, image", [
    ("idf-photos", "idf_photos_portable.idf", lambda: _photo((64, 96, 3), seed=11)),
    ("idf-gray", "idf_gray_portable.idf", lambda: _photo((48, 40, 1), seed=12)),
])
def test_published_models_portable_streams_decode_and_code_byte_for_byte(name, fixture, image):
    """tests/data/idf_*_portable.idf, written by the zoo that added the portable arithmetic: a format 8 stream
    must decode the same with every later zoo, so any change to the arithmetic needs a new format."""
    data = (Path(__file__).parent / "data" / fixture).read_bytes()
    codec = Codec.for_model(name, "portable")
    np.testing.assert_array_equal(codec.decompress(data), image())
    assert codec.compress(image()) == data


def test_your_own_flow_codes_portable_streams_too(flow):
    from zoo import idf

    image = _photo((40, 56, 3), seed=13)
    data = idf.compress(image, model=flow, precision="portable")
    assert _Header.parse(data).version == codec_module.PORTABLE_VERSION
    np.testing.assert_array_equal(idf.decompress(data, model=flow), image)
