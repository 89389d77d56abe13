"""The priors' context: for the split priors' and the last prior's coding stages, what the context net
may read (only what the decoder has by then), that it starts as the prior without it (split priors), that
the log-likelihood is each part under its own model, that the codec codes exactly what the model measures,
bit-exact round trips, and that a published flow without context grows one without losing a weight."""

import math
import types

import numpy as np
import pytest
from keras import ops

from zoo import checkpoint, training
from zoo.errors import ZooError
from zoo.idf import codec as codec_module
from zoo.idf.codec import Codec
from zoo.idf.layers import LAST_STAGES, MixturePrior, SplitPrior, coding_stages
from zoo.idf.model import IntegerDiscreteFlow
from test_idf_whole_image import _flow, _photo  # noqa: I001 (the test folder is on the path)


def _prior_and_latent(seed=0, stages=2):
    rng = np.random.default_rng(seed)
    prior = SplitPrior(width=8, depth=0, context=8, stages=stages)
    z = ops.convert_to_tensor(rng.integers(-40, 41, (2, 12, 10, 8)), "float32")
    prior(z)  # builds
    prior.set_weights([w + 0.1 * rng.normal(size=w.shape) for w in prior.get_weights()])
    kept, y = prior.partition(z)
    return prior, kept, np.asarray(y)


def test_the_coding_stages_are_the_checkerboard_then_its_channel_halves():
    two = np.asarray(coding_stages(np.zeros((1, 2, 2, 4), np.float32), 2))[0]
    np.testing.assert_array_equal(two[0, 0], [0, 0, 0, 0])  # an anchor
    np.testing.assert_array_equal(two[0, 1], [1, 1, 1, 1])
    four = np.asarray(coding_stages(np.zeros((1, 2, 2, 4), np.float32), 4))[0]
    np.testing.assert_array_equal(four[0, 0], [0, 0, 1, 1])
    np.testing.assert_array_equal(four[0, 1], [2, 2, 3, 3])
    eight = np.asarray(coding_stages(np.zeros((1, 2, 2, 4), np.float32), 8))[0]
    np.testing.assert_array_equal(eight[..., 0], [[0, 4], [6, 2]])  # (0, 0), (1, 1), (0, 1), (1, 0)
    np.testing.assert_array_equal(eight[..., 3], [[1, 5], [7, 3]])
    assert LAST_STAGES == 4
    with pytest.raises(ValueError, match="stages must be one of"):
        SplitPrior(8, 0, context=8, stages=3)


@pytest.mark.parametrize("stages, stage", [(2, 1), (4, 1), (4, 2), (4, 3), (8, 1), (8, 4), (8, 7)])
def test_each_split_stage_reads_the_stages_before_it_and_nothing_else_of_y(stages, stage):
    prior, kept, y = _prior_and_latent(stages=stages)
    mean, log_scale = prior.params(kept)
    seen = np.broadcast_to(np.asarray(coding_stages(y, stages)) < stage, y.shape)
    before = [np.asarray(p) for p in prior.context_params(kept, y, mean, log_scale, stage)]
    unseen = np.where(seen, y, np.random.default_rng(1).integers(-1000, 1000, y.shape))  # what the decoder lacks
    after = [np.asarray(p) for p in prior.context_params(kept, unseen, mean, log_scale, stage)]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    moved = y.copy()
    moved[0, 4, 4] += np.where(seen[0, 4, 4], 7, 0)  # an anchor (4 + 4 even): its neighbours' parameters change
    assert seen[0, 4, 4].any()
    changed = np.asarray(prior.context_params(kept, moved, mean, log_scale, stage)[0]) != before[0]
    assert changed[0, 3:6, 3:6].any() and not changed[1].any()


def test_a_zero_headed_context_net_leaves_the_prior_as_it_was():
    prior, kept, y = _prior_and_latent(stages=4)
    head = prior.context_net.head
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    plain = SplitPrior(width=8, depth=0)
    plain(ops.concatenate([kept, y], axis=-1))
    plain.net.set_weights(prior.net.get_weights())
    np.testing.assert_allclose(np.asarray(prior.log_prob(kept, y)), np.asarray(plain.log_prob(kept, y)), rtol=1e-6)


@pytest.mark.parametrize("stages", [2, 4, 8])
def test_the_log_prob_is_the_first_stage_under_the_prior_plus_each_later_under_the_context(stages):
    prior, kept, y = _prior_and_latent(stages=stages)
    from zoo.idf.distributions import discretized_logistic_logp

    mean, log_scale = prior.params(kept)
    stage_of = np.broadcast_to(np.asarray(coding_stages(y, stages)), y.shape)
    expected = np.where(stage_of == 0, np.asarray(discretized_logistic_logp(y, mean, log_scale)), 0.0)
    for stage in range(1, stages):
        coded = np.asarray(discretized_logistic_logp(y, *prior.context_params(kept, y, mean, log_scale, stage)))
        expected += np.where(stage_of == stage, coded, 0.0)
    np.testing.assert_allclose(np.asarray(prior.log_prob(kept, y)), expected.sum(axis=(1, 2, 3)), rtol=1e-5)


@pytest.fixture(scope="module", params=[{"context": 8}, {"context": 8, "context_stages": 4},
                                        {"context": 8, "last_context": 8},
                                        {"context": 8, "context_stages": 8, "last_context": 8, "last_context_stages": 8}],
                ids=["split", "split-4-stages", "last", "all-8-stages"])
def context_codec(request):
    """A codec of a flow whose split priors have context (in 2 stages, in 4), one whose last prior has too, and
    one with both in 8 stages."""
    return Codec(_flow(3, seed=2, **request.param), "test-context")


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 37, 3), (70, 3, 3), (128, 192, 3)])
def test_a_flow_with_context_round_trips_bit_exactly(context_codec, shape):
    image = _photo(shape, seed=sum(shape))
    np.testing.assert_array_equal(context_codec.decompress(context_codec.compress(image)), image)


def test_a_batch_in_two_chunks_round_trips(context_codec):
    batch = np.stack([_photo((128, 192, 3), seed=seed) for seed in range(7)])
    assert codec_module._chunk(batch.shape[1:]) == 5
    np.testing.assert_array_equal(context_codec.decompress(context_codec.compress(batch)), batch)


def test_the_codec_codes_what_the_flow_measures(context_codec):
    """Without offsets the stream costs the flow's own -log2 P(image) within the tables' snapping (0.5%)
    and the header; the context saves bits on this image, so the two halves of the split are really coded
    by different models."""
    image = _photo((64, 96, 3), seed=5)
    ideal = float(context_codec.flow(image[None])[0]) * image.size
    coded = 8 * len(Codec(context_codec.flow, "test-context", scale_offsets=False).compress(image))
    assert ideal <= coded + 32 and coded <= 1.005 * ideal + 8 * 40, (coded, ideal)


def test_a_published_flow_grows_context_nets_without_losing_a_weight(tmp_path, monkeypatch):
    plain = _flow(3, seed=3)
    folder = checkpoint.save(plain, tmp_path / "published", card="")
    files = {checkpoint.CONFIG: folder / checkpoint.CONFIG, checkpoint.WEIGHTS: folder / checkpoint.WEIGHTS}
    monkeypatch.setattr(training.hub, "fetch", lambda name: types.SimpleNamespace(files=files))
    grown = _flow(3, seed=9, context=8)
    for prior in grown.split_priors:
        prior.context_net.head.set_weights([np.zeros_like(w) for w in prior.context_net.head.get_weights()])
    added = training.load_published(grown, "test-flow")
    assert added == ["test-flow/split0/context"]
    image = _photo((32, 48, 3))[None]
    assert math.isclose(float(grown(image)[0]), float(plain(image)[0]), rel_tol=1e-6)
    with pytest.raises(ZooError, match="do not fit"):
        training.load_published(IntegerDiscreteFlow((16, 16, 3), levels=2, flows_per_level=2, width=[8, 16], mixtures=3,
                                                    fully_convolutional=True, context=8, name="test-flow"), "test-flow")


# -- the last prior's context ---------------------------------------------------------------------------


def _last_prior(seed=0, stages=LAST_STAGES):
    rng = np.random.default_rng(seed)
    prior = MixturePrior(mixtures=3, per_position=False, context=8, stages=stages)
    z = ops.convert_to_tensor(rng.integers(-40, 41, (2, 6, 5, 8)), "float32")
    prior(z)  # builds
    prior.set_weights([w + 0.1 * rng.normal(size=w.shape) for w in prior.get_weights()])
    return prior, np.asarray(z)


@pytest.mark.parametrize("count, stage", [(4, 1), (4, 2), (4, 3), (8, 1), (8, 6)])
def test_each_last_stage_reads_the_stages_before_it_and_nothing_else(count, stage):
    prior, z = _last_prior(stages=count)
    stages = np.broadcast_to(np.asarray(coding_stages(z, count)), z.shape)
    before = [np.asarray(p) for p in prior.context_params(z, stage)]
    unseen = np.where(stages < stage, z, np.random.default_rng(stage).integers(-1000, 1000, z.shape))
    for a, b in zip(before, prior.context_params(unseen, stage)):
        np.testing.assert_array_equal(a, np.asarray(b))
    moved = z.copy()
    moved[0, 2, 2] += np.where(stages[0, 2, 2] < stage, 9, 0)  # what this stage may read
    assert (stages[0, 2, 2] < stage).any()
    assert (np.asarray(prior.context_params(moved, stage)[0]) != before[0]).any()


@pytest.mark.parametrize("count", [4, 8])
def test_the_last_log_prob_is_the_first_stage_under_the_mixtures_plus_each_later_under_the_context(count):
    from zoo.idf.distributions import discretized_logistic_logp, mixture_discretized_logistic_logp

    prior, z = _last_prior(stages=count)
    stages = np.broadcast_to(np.asarray(coding_stages(z, count)), z.shape)
    expected = np.where(stages == 0, np.asarray(mixture_discretized_logistic_logp(z, *prior.params())), 0.0)
    for stage in range(1, count):
        coded = np.asarray(discretized_logistic_logp(z, *prior.context_params(z, stage)))
        expected += np.where(stages == stage, coded, 0.0)
    np.testing.assert_allclose(np.asarray(prior(z)), expected.sum(axis=(1, 2, 3)), rtol=1e-5)


def test_a_published_flow_grows_a_last_context_net_without_losing_a_weight(tmp_path, monkeypatch):
    plain = _flow(3, seed=3, context=8)
    folder = checkpoint.save(plain, tmp_path / "published", card="")
    files = {checkpoint.CONFIG: folder / checkpoint.CONFIG, checkpoint.WEIGHTS: folder / checkpoint.WEIGHTS}
    monkeypatch.setattr(training.hub, "fetch", lambda name: types.SimpleNamespace(files=files))
    grown = _flow(3, seed=9, context=8, last_context=8)
    assert training.load_published(grown, "test-flow") == ["test-flow/prior/context"]
    context = {id(w) for w in grown.prior.context_net.weights}
    kept = [w for w in grown.weights if id(w) not in context]
    assert len(kept) == len(plain.weights)
    for ours, theirs in zip(kept, plain.weights):
        np.testing.assert_array_equal(np.array(ours), np.array(theirs))


# -- both kinds of context ------------------------------------------------------------------------------


def _context_nets(flow, option):
    return [prior.context_net for prior in flow.split_priors] if option == "context" else [flow.prior.context_net]


STAGE_OPTIONS = {"context_stages": {"context": 8}, "last_context_stages": {"last_context": 8}}


@pytest.mark.parametrize("option", ["context", "last_context", "context_stages", "last_context_stages"])
def test_a_flow_with_context_saves_and_reloads_to_the_same_bits(tmp_path, option):
    without = _flow(3, seed=6, **STAGE_OPTIONS.get(option, {}))
    flow = _flow(3, seed=6, **{**STAGE_OPTIONS.get(option, {}), option: 8})
    assert option not in without.get_config()  # configs published before it stay as they were
    folder = checkpoint.save(flow, tmp_path / "saved", card="")
    again = checkpoint.load(folder / checkpoint.CONFIG, folder / checkpoint.WEIGHTS)
    if option in STAGE_OPTIONS:
        priors = again.split_priors if option == "context_stages" else [again.prior]
        assert getattr(again, option) == 8 and all(prior.stages == 8 for prior in priors)
        option = option.replace("_stages", "")
    assert getattr(again, option) == 8 and len(_context_nets(again, option)) == len(_context_nets(flow, option))
    image = _photo((32, 48, 3))[None]
    np.testing.assert_array_equal(np.asarray(again(image)), np.asarray(flow(image)))


@pytest.mark.parametrize("option, stages", [("context", 2), ("context", 4), ("last_context", 2)])
def test_fitting_the_context_nets_lowers_their_bits_and_moves_nothing_else(tmp_path, monkeypatch, option, stages):
    from PIL import Image

    from zoo.idf.recipes import PHOTO_RECIPE, fit_context_priors

    folder = tmp_path / "train"
    folder.mkdir()
    for seed in range(3):  # the first is the validation part
        Image.fromarray(_photo((96, 128, 3), seed=seed)).save(folder / f"{seed}.png")
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path))
    flow = _flow(3, seed=7, context_stages=stages, **{option: 8})
    nets = _context_nets(flow, option)
    for net in nets:  # as grown from a flow without context
        net.head.set_weights([np.zeros_like(w) for w in net.head.get_weights()])
    context = {id(w) for net in nets for w in net.weights}
    before = {w.path: np.array(w) for w in flow.weights if id(w) not in context}
    record = fit_context_priors(flow, PHOTO_RECIPE, steps=60, crop=16, batch_size=2, last_steps=60, last_crop=4,
                                last_batch_size=2)
    bits = "bits_per_dim" if option == "context" else "last_bits_per_dim"
    assert record["photographs"] == 2 and record[f"{bits}_after"] < record[f"{bits}_before"]
    assert ("last_steps" in record) == (option == "last_context")
    for w in flow.weights:
        if id(w) not in context:
            np.testing.assert_array_equal(np.array(w), before[w.path])


def test_a_context_fit_that_leaves_the_bits_higher_is_undone(tmp_path, monkeypatch):
    from PIL import Image

    from zoo.idf.recipes import PHOTO_RECIPE, fit_context_priors

    folder = tmp_path / "train"
    folder.mkdir()
    for seed in range(2):
        Image.fromarray(_photo((96, 128, 3), seed=seed)).save(folder / f"{seed}.png")
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path))
    flow = _flow(3, seed=8, context=8, last_context=8)
    weights = [np.array(w) for w in flow.weights]
    record = fit_context_priors(flow, PHOTO_RECIPE, steps=3, learning_rate=1e4, crop=16, batch_size=2, last_steps=3,
                                last_crop=4, last_batch_size=2)  # a rate that can only make things worse
    assert record["bits_per_dim_after"] == record["bits_per_dim_before"]
    assert record["last_bits_per_dim_after"] == record["last_bits_per_dim_before"]
    for w, before in zip(flow.weights, weights):
        np.testing.assert_array_equal(np.array(w), before)
