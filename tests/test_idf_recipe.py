"""The IDF recipes: the idf-cifar10 learning-rate schedule, the photo models' starts and their last-prior fit."""

import pytest
from conftest import needs_data

from zoo.idf.recipes import CIFAR10_RECIPE, warmup_cosine


def _rate(optimizer, step):
    return float(optimizer._learning_rate(step))


@pytest.mark.parametrize("total_steps, warmup", [(32_802, 1000), (50, 5)])
def test_warmup_then_cosine_to_five_percent(total_steps, warmup):
    optimizer = warmup_cosine(total_steps, peak=1e-3)
    assert _rate(optimizer, 0) == 0.0
    assert _rate(optimizer, warmup // 2) == pytest.approx(1e-3 * (warmup // 2) / warmup, rel=1e-3)  # linear warm-up
    assert _rate(optimizer, warmup) == pytest.approx(1e-3)  # a tenth of the run at most
    assert _rate(optimizer, total_steps) == pytest.approx(5e-5)  # the decay ends with the run


def test_the_recipe_uses_the_warmup_schedule():
    assert _rate(CIFAR10_RECIPE.optimizer(10_000), 1000) == pytest.approx(1e-3)


def test_clipped_highlights_shift_each_channel_by_one_whole_number_and_clip_at_255():
    import numpy as np
    import tensorflow as tf

    from zoo.idf.recipes import clipped_highlights

    tf.random.set_seed(0)
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    image[0, 0] = 0
    shifts = set()
    for _ in range(40):
        out = clipped_highlights(tf.constant(image)).numpy()
        assert out.dtype == np.uint8 and out.shape == image.shape
        for c in range(3):
            shift = int(out[0, 0, c])  # the pixel at 0 shows the channel's shift
            assert 0 <= shift <= 64
            np.testing.assert_array_equal(out[..., c], np.minimum(image[..., c].astype(int) + shift, 255))
            shifts.add(shift)
    assert 0 in shifts and len(shifts) > 10  # about half the crops untouched, the others spread


def test_the_photo_recipe_clips_highlights_and_the_gray_one_does_not():
    import numpy as np
    import tensorflow as tf

    from zoo.idf.recipes import GRAY_RECIPE, PHOTO_RECIPE

    tf.random.set_seed(1)
    bright = tf.fill((8, 8, 3), tf.constant(230, tf.uint8))
    rgb = [PHOTO_RECIPE.augment(bright, 0)[0].numpy() for _ in range(20)]
    gray = [GRAY_RECIPE.augment(bright[..., :1], 0)[0].numpy() for _ in range(20)]
    assert any((image == 255).any() for image in rgb)
    assert all((image == 230).all() for image in gray)


@pytest.mark.parametrize("levels", [3, 5])
def test_photo_models_start_from_every_layer_they_share_with_idf_cifar10(levels):
    import keras
    import numpy as np

    import zoo
    from zoo.idf.recipes import _from_idf_cifar10, idf_photos

    keras.utils.set_random_seed(0)
    model = idf_photos(levels=levels)
    fresh = {layer.name: [w.numpy() for w in layer.weights] for layer in model.layers}
    _from_idf_cifar10(model)
    source = {layer.name: [w.numpy() for w in layer.weights] for layer in zoo.load("idf-cifar10").layers}
    copied = 0
    for layer in model.layers:
        if layer.name == "prior":  # one interior position's mixtures, where the channels agree (3 levels)
            mixtures = [v[1, 1] for v in source["prior"]] if levels == 3 else fresh["prior"][:3]
            expected = mixtures + fresh["prior"][3:]  # its context net: fresh
        else:
            expected = source.get(layer.name, fresh[layer.name])
            expected = expected + fresh[layer.name][len(expected):]  # a split prior's context net: fresh
            copied += layer.name in source and bool(layer.weights)
        for w, v in zip(layer.weights, expected, strict=True):
            np.testing.assert_array_equal(w.numpy(), v, err_msg=w.path)
    assert copied == 3 * 4 * 2 + 2  # couplings and permutations of three levels, two split priors
    assert len(model.layers) > len(source) or levels == 3


@pytest.mark.parametrize("growth", [{"flows_per_level": [5, 4, 6, 4, 7]}, {"depth": [0, 1, 0, 2, 1]}])
def test_a_flow_grown_from_idf_photos_codes_exactly_as_idf_photos(growth):
    import numpy as np

    import zoo
    from zoo.idf.recipes import grown_from_idf_photos

    images = np.random.default_rng(0).integers(0, 256, (2, 64, 96, 3)).astype("uint8")
    grown = zoo.load("idf-photos", pretrained=False, **{"flows_per_level": [4, 4, 6, 4, 4], **growth})
    assert grown_from_idf_photos(grown)["model"] == "idf-photos"
    source = zoo.load("idf-photos")
    ours, theirs = grown.latents(images), source.latents(images)
    for a, b in zip([*ours[0], ours[1]], [*theirs[0], theirs[1]]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    added = [p.order.numpy() for p, _ in grown._steps(2)[4:]]
    assert not np.array_equal(added[0], np.arange(len(added[0])))  # the added pair permutes, then undoes it


def test_growing_refuses_fewer_couplings_than_idf_photos():
    import pytest

    import zoo
    from zoo.idf.recipes import grown_from_idf_photos

    with pytest.raises(ValueError, match="level 1 has 3 couplings"):
        grown_from_idf_photos(zoo.load("idf-photos", pretrained=False, flows_per_level=[4, 3, 4, 4, 4]))
    with pytest.raises(ValueError, match="needs its rezero"):
        grown_from_idf_photos(zoo.load("idf-photos", pretrained=False, rezero=True))


def test_freezing_leaves_only_the_added_couplings_trainable():
    import zoo
    from zoo.idf.recipes import train_only_added_couplings

    grown = zoo.load("idf-photos", pretrained=False, flows_per_level=[4, 4, 4, 6, 4])
    train_only_added_couplings(grown)
    trainable = {layer.name for layer in grown.layers if layer.trainable_weights}
    assert trainable == {coupling.name for _, coupling in grown._steps(3)[4:]}


def _photo_set(tmp_path, monkeypatch):
    """The photo recipe on four small smooth photographs (p00 is validation), cut to multiples of 4."""
    import dataclasses

    import numpy as np
    from PIL import Image

    from zoo.idf.recipes import PHOTO_RECIPE

    folder = tmp_path / "photos" / "set"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 72), (64, 36), (48, 48), (37, 41)]):
        smooth = np.cumsum(rng.integers(-3, 4, (h, w, 3)), axis=1) + 128
        Image.fromarray(np.clip(smooth, 0, 255).astype("uint8")).save(folder / f"p{i:02d}.png")
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path / "photos"))
    return dataclasses.replace(PHOTO_RECIPE, collection="set", validation_multiple=4)


@pytest.mark.parametrize("last_context", [0, 8])
def test_fitting_the_last_prior_lowers_its_exact_bits_on_the_training_photographs(tmp_path, monkeypatch, last_context):
    """With context, the mixtures' bits are those of the first coding stage, the only values they code."""
    import math

    import numpy as np

    from zoo import data
    from zoo.idf.distributions import mixture_discretized_logistic_logp
    from zoo.idf.layers import LAST_STAGES, coding_stages
    from zoo.idf.recipes import fit_last_prior, idf

    recipe = _photo_set(tmp_path, monkeypatch)
    model = idf(image_shape=(16, 16, 3), levels=2, flows_per_level=1, width=8, fully_convolutional=True,
                last_context=last_context)

    def exact_bits():  # the mixtures' bits per image dimension, one whole photograph at a time
        images = [image for image, _ in data.photo_images(data.photo_files("set", "train"), "RGB", 4).as_numpy_iterator()]
        nats = 0.0
        for image in images:
            z = model.latents(image[None])[1]
            coded = coding_stages(z, LAST_STAGES) == 0 if last_context else True
            nats -= float(np.sum(np.where(coded, mixture_discretized_logistic_logp(z, *model.prior.params()), 0.0)))
        return nats / math.log(2) / sum(image.size for image in images)

    before = exact_bits()
    done = fit_last_prior(model, recipe, steps=50)
    assert done["photographs"] == 3
    assert done["bits_per_dim_before"] == pytest.approx(before, rel=1e-5)
    assert done["bits_per_dim_after"] == pytest.approx(exact_bits(), rel=1e-5)
    assert done["bits_per_dim_after"] < before - 0.1
    with pytest.raises(ValueError, match="fully convolutional"):
        fit_last_prior(idf(image_shape=(16, 16, 3), levels=2, flows_per_level=1, width=8), recipe)


@pytest.mark.parametrize("metric", ["bpd_bfloat16", "bpd"])
def test_the_finish_step_fits_the_priors_in_the_arithmetic_the_recipe_selects_on(tmp_path, monkeypatch, metric):
    """Fitted in the bfloat16 codec's arithmetic, the priors lower its bits on the training photographs; the
    flow takes the fitted weights and keeps computing in float32."""
    import dataclasses
    import functools

    from zoo import data
    from zoo.idf import recipes

    recipe = dataclasses.replace(_photo_set(tmp_path, monkeypatch), metric=metric)
    monkeypatch.setattr(recipes, "fit_last_prior", functools.partial(recipes.fit_last_prior, steps=40))
    monkeypatch.setattr(recipes, "fit_context_priors",
                        functools.partial(recipes.fit_context_priors, steps=40, crop=16, last_steps=40, last_crop=2))
    model = recipes.idf(image_shape=(16, 16, 3), levels=2, flows_per_level=1, width=8, fully_convolutional=True,
                        context=4, last_context=4)
    class Whole:  # the whole training photographs, what the finish step fits
        def load(self, split, data_dir=None):
            return data.photo_images(data.photo_files("set", "train"), "RGB", 4)

    before = recipes.photo_bits(model, Whole(), "train")
    done = recipes.fit_priors(model, recipe)
    after = recipes.photo_bits(model, Whole(), "train")
    assert done["arithmetic"] == {"bpd_bfloat16": "bfloat16", "bpd": "float32"}[metric]
    assert [step["step"] for step in done["steps"]] == ["fit_last_prior", "fit_context_priors"]
    assert after[metric] < before[metric] - 0.05
    assert all(conv.compute_dtype == "float32" for c in model.couplings for conv in c.net.hidden_convolutions())


@needs_data
@pytest.mark.parametrize("crop, crops", [(256, 512), (64, 8192), (128, 2048), (96, 3641)])
def test_another_crop_side_keeps_the_pixels_of_an_epoch(crop, crops):
    from zoo.idf.recipes import PHOTO_RECIPE

    recipe = PHOTO_RECIPE.with_crop(crop)
    assert (recipe.crop, recipe.crops_per_epoch) == (crop, crops)
    assert abs(crops * crop**2 - PHOTO_RECIPE.crops_per_epoch * PHOTO_RECIPE.crop**2) <= crop**2 / 2
    assert PHOTO_RECIPE.crop == 128  # the registered recipe is left alone


@pytest.mark.parametrize("crop", [0, -32, 100, 64.0])
def test_a_crop_side_that_would_not_squeeze_whole_is_refused(crop):
    from zoo.idf.recipes import PHOTO_RECIPE

    with pytest.raises(ValueError, match="positive multiple of 32"):
        PHOTO_RECIPE.with_crop(crop)


@needs_data
def test_a_crop_larger_than_the_smallest_training_photograph_is_refused_before_training():
    from zoo.idf.recipes import PHOTO_RECIPE

    with pytest.raises(ValueError, match="smallest training photograph's side, 268 pixels, not 288"):
        PHOTO_RECIPE.with_crop(288)
