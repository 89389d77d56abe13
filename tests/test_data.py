"""Data sets come from the configured folder, never from a surprise download."""

import pytest
from conftest import DATA_DIR, needs_data

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
