"""HexaConv classifiers: equal parameter budgets, exact invariance of p6 / p6m logits, save and reload."""

import keras
import numpy as np
import pytest
from conftest import needs_data
from keras import ops

from zoo import checkpoint
from zoo.hexaconv import mirror, rotate60, square_to_hex
from zoo.hexaconv.models import free_parameters, hexaconv_resnet

RNG = np.random.default_rng(0)
SMALL = dict(num_classes=5, image_size=32, radius=16, widths=(8, 16))


@pytest.fixture(scope="module")
def images():
    return RNG.integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)


def test_lattice_variants_have_no_more_free_parameters_than_z2():
    counts = {v: free_parameters(hexaconv_resnet(v, 30, 64, 32)) for v in ("z2", "hex", "p6", "p6m")}
    for variant in ("hex", "p6", "p6m"):  # equal up to the rounding of widths, never to z2's disadvantage
        assert 0.9 <= counts[variant] / counts["z2"] <= 1.02, counts


@pytest.mark.parametrize("variant, transforms", [
    ("p6", [lambda h, k=k: rotate60(h, k) for k in range(1, 6)]),
    ("p6m", [lambda h, k=k: rotate60(h, k) for k in range(1, 6)] + [mirror, lambda h: rotate60(mirror(h), 3)]),
])
def test_group_model_logits_are_invariant_on_the_lattice(variant, transforms, images):
    model = hexaconv_resnet(variant, **SMALL)
    classifier = model.get_layer("hex_classifier")
    hexes = square_to_hex(ops.convert_to_tensor(images, "float32") / 127.5 - 1.0, SMALL["radius"])
    logits = ops.convert_to_numpy(classifier(hexes))
    assert np.abs(logits).max() > 1e-3  # not trivially zero
    for transform in transforms:
        np.testing.assert_allclose(ops.convert_to_numpy(classifier(transform(hexes))), logits, atol=1e-4)


def test_planar_hex_model_is_not_invariant(images):
    model = hexaconv_resnet("hex", **SMALL)
    classifier = model.get_layer("hex_classifier")
    hexes = square_to_hex(ops.convert_to_tensor(images, "float32") / 127.5 - 1.0, SMALL["radius"])
    diff = np.abs(ops.convert_to_numpy(classifier(rotate60(hexes))) - ops.convert_to_numpy(classifier(hexes)))
    assert diff.max() > 1e-4


@pytest.mark.parametrize("variant", ["z2", "hex", "p6", "p6m"])
def test_takes_uint8_returns_probabilities_and_reloads(variant, images, tmp_path):
    model = hexaconv_resnet(variant, **SMALL)
    probs = ops.convert_to_numpy(model(images))
    assert probs.shape == (4, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    checkpoint.save(model, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    np.testing.assert_array_equal(ops.convert_to_numpy(again(images)), probs)


@pytest.mark.parametrize("variant", ["z2", "p6"])
def test_new_head_shares_the_body_and_fine_tunes(variant, images, tmp_path):
    from zoo.hexaconv.models import with_new_head

    base = hexaconv_resnet(variant, **SMALL)
    model = with_new_head(base, num_classes=3)
    assert model.output_shape == (None, 3)
    base_kernel = (base.get_layer("hex_classifier") if variant != "z2" else base).get_layer("stem").kernel
    assert any(w is base_kernel for w in model.weights)  # the body is shared, not copied
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = base_kernel.numpy().copy()
    model.fit(images, np.array([0, 1, 2, 1]), epochs=2, batch_size=2, verbose=0)
    assert not np.allclose(before, base_kernel.numpy())
    checkpoint.save(model, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    np.testing.assert_allclose(ops.convert_to_numpy(again(images)), ops.convert_to_numpy(model(images)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["z2", "hex", "p6", "p6m"])
def test_exports_to_litert_with_builtin_ops(variant, images, tmp_path):
    from zoo import export

    report = export.to_litert(hexaconv_resnet(variant, **SMALL), tmp_path / "m.tflite", samples=images)
    assert "CONV_2D" in report.ops and report.max_abs_error < 1e-5


@needs_data
def test_pretrained_p6_aid_gets_a_new_head_and_fine_tunes(tmp_path):
    import zoo
    from zoo import data
    from zoo.hexaconv.models import with_new_head

    base = zoo.load("hexaconv-p6-aid")
    stem = base.get_layer("hex_classifier").get_layer("stem")
    pretrained = stem.kernel.numpy().copy()
    model = with_new_head(base, num_classes=5)
    assert model.output_shape == (None, 5)
    # a new 5-class task: AID's first five scene classes, a few training images of each
    pairs = [(x, y) for x, y in data.load("aid64", "train").take(400).as_numpy_iterator() if y < 5][:20]
    images, labels = np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    history = model.fit(images, labels, epochs=5, batch_size=10, verbose=0).history["loss"]
    assert history[-1] < history[0]  # it learns the new classes
    assert not np.array_equal(stem.kernel.numpy(), pretrained)  # the pretrained body is fine-tuned too
    checkpoint.save(model, tmp_path, card="")
    again = checkpoint.load(tmp_path / checkpoint.CONFIG, tmp_path / checkpoint.WEIGHTS)
    np.testing.assert_allclose(ops.convert_to_numpy(again(images)), ops.convert_to_numpy(model(images)), rtol=1e-5, atol=1e-6)
