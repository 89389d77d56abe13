"""Data sets through tensorflow-datasets, from one local folder unless downloads are allowed.

The folder is `data_dir=`, else `$ZOO_DATA_DIR`, else tfds's default. Downloads
happen only with `download=True` or `ZOO_DATA_DOWNLOAD=1`.

Photographs (plain image files, not tfds) come from `photos_dir=`, else
`$ZOO_PHOTOS_DIR`, else a `photos/` folder beside the tfds folder.

Example:
    >>> from zoo import data
    >>> ds = data.load("mnist", "test")          # (uint8 image, int64 label) pairs
    >>> image, label = next(iter(ds))
    >>> kodak = data.photos("kodak24")           # [(name, uint8 (H, W, 3))], sorted by name
"""

import os

from zoo.errors import DataNotFoundError


LICENSES = {
    "mnist": "MNIST (LeCun, Cortes and Burges), CC BY-SA 3.0.",
    "cifar10": "CIFAR-10 (Krizhevsky 2009, University of Toronto), published for research without a stated license.",
    "aid64": "AID (Xia et al. 2017, Wuhan University), for research use; here resized to 64x64.",
}


def license_of(name):
    """The license (and source) of data set `name`, as model cards state it."""
    return LICENSES.get(name, "see the data set's own terms.")


def resolve_dir(explicit=None):
    """The folder data sets are read from (None means tfds's default)."""
    return explicit or os.environ.get("ZOO_DATA_DIR") or None


def load(name, split, *, data_dir=None, download=None, as_supervised=True, shuffle_files=False):
    """`tf.data.Dataset` of `name`'s `split`, e.g. `load("cifar10", "test")`."""
    import tensorflow_datasets as tfds

    folder = resolve_dir(data_dir)
    if download is None:
        download = os.environ.get("ZOO_DATA_DOWNLOAD", "") in {"1", "true", "yes"}
    try:
        builder = tfds.builder(name, data_dir=folder)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataNotFoundError(_missing(name, folder)) from None
    if download:
        builder.download_and_prepare()
    elif not builder.is_prepared():
        raise DataNotFoundError(_missing(name, folder))
    splits = builder.info.splits
    base = split.split("[")[0]
    if base not in splits:
        raise DataNotFoundError(f"Data set '{name}' has no split {split!r}; it has {', '.join(sorted(splits))}.")
    return builder.as_dataset(split=split, as_supervised=as_supervised, shuffle_files=shuffle_files)


def info(name, *, data_dir=None):
    """tfds's `DatasetInfo` of a prepared data set (version, splits, features)."""
    import tensorflow_datasets as tfds

    folder = resolve_dir(data_dir)
    try:
        return tfds.builder(name, data_dir=folder).info
    except tfds.core.registered.DatasetNotFoundError:
        raise DataNotFoundError(_missing(name, folder)) from None


PHOTO_SUFFIXES = (".png", ".webp")


def photos_dir(explicit=None):
    """The folder of photograph collections: `explicit`, `$ZOO_PHOTOS_DIR`, or `photos/` beside the tfds folder."""
    from pathlib import Path

    if explicit or os.environ.get("ZOO_PHOTOS_DIR"):
        return Path(explicit or os.environ["ZOO_PHOTOS_DIR"])
    tfds_dir = resolve_dir()
    if tfds_dir is None:
        raise DataNotFoundError("Set ZOO_PHOTOS_DIR (or ZOO_DATA_DIR, with photos/ beside it) to read photographs.")
    return Path(tfds_dir).resolve().parent / "photos"


def photos(collection, *, photos_dir_=None, mode="RGB"):
    """[(file name, uint8 array)] of the lossless image files (PNG, WebP) in `collection`, sorted by name;
    `mode` "RGB" (H, W, 3) or "L" (H, W), Pillow's conversion."""
    import numpy as np
    from PIL import Image

    folder = photos_dir(photos_dir_) / collection
    files = sorted(f for f in folder.glob("*") if f.suffix.lower() in PHOTO_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise DataNotFoundError(f"No PNG or WebP photographs in {folder}.")
    return [(f.name, np.asarray(Image.open(f).convert(mode))) for f in files]


def _missing(name, folder):
    where = folder or "tfds's default folder"
    return (
        f"Data set '{name}' is not prepared in {where} and downloads are off. Set ZOO_DATA_DIR to a folder "
        "that holds it in the tfds layout, or allow the download with download=True or ZOO_DATA_DOWNLOAD=1."
    )
