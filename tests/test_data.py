"""Data sets come from the configured folder, never from a surprise download; photograph collections."""

import numpy as np
import pytest
from conftest import DATA_DIR, needs_data
from PIL import Image

from zoo import data
from zoo.errors import DataNotFoundError


@needs_data
@pytest.mark.parametrize("name, split, count, shape", [
    ("mnist", "test", 10_000, (28, 28, 1)),
    ("cifar10", "test", 10_000, (32, 32, 3)),
    ("aid64", "test", 2_000, (64, 64, 3)),
])
def test_prepared_sets_load_from_zoo_data_dir(name, split, count, shape):
    ds = data.load(name, split)
    assert int(ds.cardinality()) == count
    image, label = next(iter(ds))
    assert tuple(image.shape) == shape and image.dtype == "uint8" and label.dtype == "int64"
    assert data.info(name).splits[split].num_examples == count


def test_missing_set_with_downloads_off(tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_DATA_DOWNLOAD", raising=False)
    with pytest.raises(DataNotFoundError, match="not prepared in .* downloads are off"):
        data.load("mnist", "test", data_dir=str(tmp_path))


@needs_data
def test_unknown_split_lists_the_splits():
    with pytest.raises(DataNotFoundError, match="has no split 'valid'; it has test, train"):
        data.load("mnist", "valid", data_dir=DATA_DIR)


def test_data_dir_setting(monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", "/some/where")
    assert data.resolve_dir() == "/some/where"
    assert data.resolve_dir("/explicit") == "/explicit"
    monkeypatch.delenv("ZOO_DATA_DIR")
    assert data.resolve_dir() is None


def _photo_folder(tmp_path, sizes):
    folder = tmp_path / "photos" / "set"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype("uint8")).save(folder / f"p{i:02d}.png")
    return folder


def test_photo_parts_are_fixed_disjoint_and_complete(tmp_path, monkeypatch):
    _photo_folder(tmp_path, [(20, 30)] * 23)
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path / "photos"))
    train, validation = data.photo_files("set", "train"), data.photo_files("set", "validation")
    assert [f.name for f in validation] == ["p00.png", "p10.png", "p20.png"]
    assert sorted(train + validation) == data.photo_files("set") and not set(train) & set(validation)
    version = data.photo_version("set")
    (tmp_path / "photos" / "set" / "p05.png").write_bytes(b"changed")
    assert data.photo_version("set") != version


def test_photo_crops_come_from_the_images_and_whole_images_are_cut_to_a_multiple(tmp_path, monkeypatch):
    import keras

    folder = _photo_folder(tmp_path, [(20, 30), (40, 16)])
    files = sorted(folder.glob("*.png"))
    images = [np.asarray(Image.open(f)) for f in files]
    keras.utils.set_random_seed(0)
    crops = [c.numpy() for c, _ in data.photo_crops(files, 8, 50)]
    assert len(crops) == 50 and all(c.shape == (8, 8, 3) and c.dtype == np.uint8 for c in crops)
    for c in crops[:10]:  # each crop is a window of one of the images
        assert any((np.lib.stride_tricks.sliding_window_view(image, (8, 8, 3)) == c).all(axis=(-3, -2, -1)).any()
                   for image in images)
    cut = [c.numpy() for c, _ in data.photo_images(files, multiple=8)]
    assert [c.shape for c in cut] == [(16, 24, 3), (40, 16, 3)]
    np.testing.assert_array_equal(cut[0], images[0][:16, :24])  # the bottom and right edges go
    with pytest.raises(ValueError, match="smaller than 32 pixels a side"):
        data.photo_images(files, multiple=32)
    gray = [c.numpy() for c, _ in data.photo_images(files, mode="L")]
    assert [g.shape for g in gray] == [(20, 30, 1), (40, 16, 1)]
    with pytest.raises(ValueError, match="smaller than the 32-pixel crop"):
        data.photo_crops(files, 32, 5)
