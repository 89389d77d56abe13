"""The codec in bfloat16 (`Codec(precision="bfloat16")`): the refined bfloat16 convolution's precision, exact
round trips, the stream recording its precision, and the caller's flow left as it was."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from zoo.idf import Codec, layers
from zoo.idf import codec as codec_module
from zoo.idf.codec import ROUNDED_PRIORS, _Header
from test_idf_whole_image import _flow, _photo

DATA = Path(__file__).parent / "data"

RNG = np.random.default_rng(0)


def _rounded(a):
    """a rounded to bfloat16, as float32."""
    return ops.convert_to_numpy(ops.cast(ops.cast(a, "bfloat16"), "float32"))


@pytest.mark.parametrize("cout", [3, 12])
def test_refined_bfloat16_conv_matches_float32_of_the_rounded_operands(cout):
    conv = keras.layers.Conv2D(cout, 3, padding="same", bias_initializer="random_normal")
    x = _rounded(np.maximum(RNG.normal(size=(2, 24, 20, 64)), 0.0).astype("float32"))
    conv.build(x.shape)
    conv.kernel.assign(RNG.normal(scale=0.2, size=conv.kernel.shape).astype("float32"))
    exact = ops.convert_to_numpy(ops.conv(x, _rounded(conv.kernel), padding="same") + conv.bias)
    refined = ops.convert_to_numpy(layers.bfloat16_conv(conv, x))
    rounded = ops.convert_to_numpy(layers.bfloat16_conv(conv, x, refine=False))
    scale = np.abs(exact).max()
    # one bfloat16 rounding of the result: up to 2**-9 of it; refined, two: about 2**-17
    assert np.abs(rounded - exact).max() > 2.0**-12 * scale
    assert np.abs(refined - exact).max() < 2.0**-15 * scale
    assert refined.dtype == np.float32


def test_bfloat16_conv_refuses_strided_convolutions():
    with pytest.raises(ValueError, match="stride-1"):
        layers.bfloat16_conv(keras.layers.Conv2D(3, 3, strides=2, padding="same"), np.zeros((1, 8, 8, 4), "float32"))


def test_heads_need_mixed_precision():
    with pytest.raises(ValueError, match="heads=True needs enabled=True"):
        _flow().set_mixed_precision(False, heads=True)
    with pytest.raises(ValueError, match="prior_heads must be"):
        _flow().set_mixed_precision(True, heads=True, prior_heads="8bit")


@pytest.mark.parametrize("prior_heads", ["refined", "rounded"])
def test_heads_in_lattice_units_are_refined_and_corrections_in_scales_rounded(prior_heads):
    """The couplings' translations and the priors' means (split priors' nets, the last prior's context net) are
    emitted in lattice units, where 8 bits would move a value near 128 by a quarter of a unit; the split priors'
    context nets emit corrections in units of the prior's scale."""
    flow = _flow(3, context=8, last_context=8)
    flow.set_mixed_precision(True, heads=True, prior_heads=prior_heads)
    assert {c.net.bfloat16_head for c in flow.couplings} == {"refined"}
    assert {p.net.bfloat16_head for p in flow.split_priors} | {flow.prior.context_net.bfloat16_head} == {prior_heads}
    assert {p.context_net.bfloat16_head for p in flow.split_priors} == {"rounded"}
    flow.set_mixed_precision(True)
    assert not any(net.bfloat16_head for net in [flow.prior.context_net, *(p.net for p in flow.split_priors)])


def test_refined_prior_heads_give_the_means_of_float32_sums():
    """On a bright image (values near +127 once centred) the rounded heads' means stray by up to 2**-9 of them;
    refined, they are the float32 sums of the same bfloat16 products (the heads' kernels are made bfloat16
    numbers here, so that a float32 head on the same hidden layers computes exactly those)."""
    flow = _flow(3, seed=3)
    head = flow.split_priors[0].net.head
    head.kernel.assign(_rounded(head.kernel))
    image = np.minimum(_photo((32, 32, 3), seed=4).astype(np.int32) + 90, 255).astype(np.uint8)
    kept = flow.split_priors[0].partition(flow.level_forward(0, ops.cast(image[None], "float32") - 128.0))[0]
    means = {}
    for heads in ("refined", "rounded", None):
        net = codec_module.bfloat16_copy(flow, prior_heads=heads or "refined").split_priors[0].net
        net.bfloat16_head = heads  # None: bfloat16 hidden layers, the head in float32
        means[heads] = ops.convert_to_numpy(net(kept / layers.SCALE))[..., :6] * layers.SCALE
    scale = np.abs(means[None]).max()
    assert np.abs(means["refined"] - means[None]).max() < 2.0**-15 * scale
    assert np.abs(means["rounded"] - means[None]).max() > 2.0**-11 * scale


@pytest.fixture(scope="module")
def flow():
    return _flow(3, seed=3)


@pytest.fixture(scope="module")
def codecs(flow):
    return {p: Codec(flow, "test-bf16", precision=p) for p in ("float32", "bfloat16")}


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 9, 3), (1, 300, 3), (2, 36, 52, 3)])
def test_bfloat16_streams_round_trip_bit_exactly_and_say_so(codecs, shape):
    image = _photo(shape, seed=5)
    data = codecs["bfloat16"].compress(image)
    assert _Header.parse(data).precision == "bfloat16"
    np.testing.assert_array_equal(codecs["bfloat16"].decompress(data), image)
    np.testing.assert_array_equal(codecs["float32"].decompress(data), image)  # the stream picks the arithmetic
    other = codecs["float32"].compress(image)
    assert _Header.parse(other).precision == "float32"
    np.testing.assert_array_equal(codecs["bfloat16"].decompress(other), image)


def test_the_two_precisions_code_differently_at_about_the_same_cost(codecs):
    image = _photo((64, 48, 3), seed=6)
    sizes = {p: len(c.compress(image)) for p, c in codecs.items()}
    assert codecs["bfloat16"].compress(image) != codecs["float32"].compress(image)
    assert abs(sizes["bfloat16"] - sizes["float32"]) < 0.02 * sizes["float32"]


def test_the_codec_leaves_the_callers_flow_in_float32(flow, codecs):
    assert all(not net.bfloat16_head for net in [c.net for c in flow.couplings])
    assert all(conv.compute_dtype == "float32" for c in flow.couplings for conv in c.net.hidden_convolutions())


def test_auto_is_bfloat16_for_fully_convolutional_flows_where_the_cpu_has_the_units(flow, monkeypatch):
    tile_flow = _flow(3, seed=3)
    tile_flow.fully_convolutional = False  # only what `auto` reads
    for units, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(codec_module, "bfloat16_units", lambda: units)
        assert Codec(flow, "test-auto").precision == expected
        assert Codec(tile_flow, "test-auto").precision == "float32"


def test_an_unknown_precision_is_refused(flow):
    with pytest.raises(ValueError, match="precision must be one of"):
        Codec(flow, "test-bf16", precision="float16")


@pytest.mark.parametrize("flag", [64])
def test_a_header_with_unknown_flags_is_refused(codecs, flag):
    """64 (refined priors) means nothing without 32 (bfloat16)."""
    data = bytearray(codecs["float32"].compress(_photo((8, 8, 3))))
    header = _Header.parse(bytes(data))
    flags_at = header.size - 3  # flags, then H and W as one-byte varints
    data[flags_at] |= flag
    with pytest.raises(codec_module.CodecError, match="invalid header"):
        _Header.parse(bytes(data))


def _bright_photo():
    return np.minimum(_photo((24, 20, 3), seed=11).astype(np.int32) + 90, 255).astype(np.uint8)


def test_bfloat16_streams_made_before_the_prior_heads_were_refined_still_decode(codecs):
    """tests/data/idf_bfloat16_rounded_priors.idf: `_bright_photo()` coded by the zoo of commit 82ea5af
    (`Codec(_flow(3, seed=3), "test-bf16", precision="bfloat16")`), when every prior head was rounded to 8 bits.
    Its header says so, and it decodes bit for bit in that arithmetic, which the codec of today
    reproduces; read as a stream of today's arithmetic it fails its check."""
    data = (DATA / "idf_bfloat16_rounded_priors.idf").read_bytes()
    header = _Header.parse(data)
    assert header.precision == ROUNDED_PRIORS
    for codec in codecs.values():
        np.testing.assert_array_equal(codec.decompress(data), _bright_photo())
    before_shifts = Codec(codecs["bfloat16"].flow, "test-bf16", precision=ROUNDED_PRIORS, mean_shifts=False)
    assert before_shifts.compress(_bright_photo()) == data
    relabelled = bytearray(data)
    relabelled[header.size - 3] |= _Header.REFINED_PRIORS
    with pytest.raises(codec_module.CodecError, match="CRC32"):
        codecs["bfloat16"].decompress(bytes(relabelled))
    today = codecs["bfloat16"].compress(_bright_photo())
    assert _Header.parse(today).precision == "bfloat16" and today != data


_DECODE_ONE_THREAD = """
import sys, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
from zoo.idf import decompress
for path in sys.argv[1:]:
    np.save(path + ".npy", decompress(open(path, "rb").read()))
"""


def test_published_streams_decode_the_same_on_one_thread(tmp_path):
    """A stream made with this machine's threads decodes bit-exactly with one (as on a smaller machine), in both
    precisions: the convolutions' sums must not depend on how the work is split."""
    image = _photo((96, 128, 3), seed=7)
    paths = []
    for precision in ("float32", "bfloat16"):
        paths.append(tmp_path / f"{precision}.idf")
        paths[-1].write_bytes(Codec.for_model("idf-photos", precision).compress(image))
    subprocess.run([sys.executable, "-c", _DECODE_ONE_THREAD, *map(str, paths)], check=True, timeout=300)
    for path in paths:
        np.testing.assert_array_equal(np.load(str(path) + ".npy"), image)


def test_the_photo_recipes_measure_each_image_in_float32_and_in_the_bfloat16_codecs_arithmetic(flow):
    """`photo_bits`, the photo recipes' evaluator: the mean over images of the flow's bits per dimension, as
    it is (`bpd`) and as `Codec(precision="bfloat16")` runs it (`bpd_bfloat16`, what they select on)."""
    import tensorflow as tf

    from zoo.idf.recipes import PHOTO_RECIPE, photo_bits, photo_bits_by_image

    images = [_photo((64, 96, 3), seed=7), _photo((48, 40, 3), seed=8)]

    class Photos:
        def load(self, split, data_dir=None):
            return tf.data.Dataset.from_generator(
                lambda: ((image, 0) for image in images),
                output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int32)))

    measured = photo_bits(flow, Photos(), "validation")
    by_image = photo_bits_by_image(flow, Photos(), "validation")
    assert {name: np.mean(bits) for name, bits in by_image.items()} == pytest.approx(measured, rel=1e-12)
    assert by_image["bpd"] == pytest.approx([float(flow(i[None])[0]) for i in images], rel=1e-6)  # in order
    copy = codec_module.bfloat16_copy(flow)
    assert measured["bpd"] == pytest.approx(np.mean([float(flow(i[None])[0]) for i in images]), rel=1e-6)
    # eager bfloat16 kernels round a little differently from the graphs photo_bits and the codec trace
    assert measured["bpd_bfloat16"] == pytest.approx(np.mean([float(copy(i[None])[0]) for i in images]), abs=1e-4)
    assert measured["bpd_bfloat16"] != measured["bpd"]  # another arithmetic, other bits
    # every epoch the harness skips the float32 bits, which Keras's validation pass (one image a batch) measures
    assert photo_bits(flow, Photos(), "validation", skip=("bpd", "loss")) == {"bpd_bfloat16": measured["bpd_bfloat16"]}
    fresh = _flow(3, seed=3)  # the fixture's weights, uncompiled
    fresh.compile(loss=PHOTO_RECIPE.loss, metrics=list(PHOTO_RECIPE.metrics))
    keras_measured = fresh.evaluate(Photos().load("validation").batch(1), return_dict=True, verbose=0)
    assert keras_measured["bpd"] == pytest.approx(measured["bpd"], rel=1e-6)
    test_the_codec_leaves_the_callers_flow_in_float32(flow, None)
    assert PHOTO_RECIPE.metric == "bpd_bfloat16" and PHOTO_RECIPE.evaluator is photo_bits
