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
    "photos/train": ("49 Wikimedia Commons photographs (mostly CC-licensed, attribution per file at the source), "
                     "96 Urban100 and 18 McMaster test images, for research use."),
    "photos/kodak24": "the Kodak PhotoCD set (Eastman Kodak), released for unrestricted research use.",
}


def license_of(name):
    """The license (and source) of data set `name` (a luma variant, "NAME (luma)", as NAME), as model cards state it.

    Example:
        >>> license_of("photos/kodak24 (luma)")
        'the Kodak PhotoCD set (Eastman Kodak), released for unrestricted research use.'
    """
    return LICENSES.get(name.removesuffix(" (luma)"), "see the data set's own terms.")


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

    return [(f.name, np.asarray(Image.open(f).convert(mode))) for f in photo_files(collection, photos_dir_=photos_dir_)]


PHOTO_VALIDATION_EVERY = 10  # of a collection's files sorted by name, every tenth (the first, the 11th, ...)


def photo_files(collection, part="all", *, photos_dir_=None):
    """The sorted image files of a photograph collection: "all", or its fixed "train" / "validation" parts
    (every PHOTO_VALIDATION_EVERY-th file, counting from the first, is validation)."""
    folder = photos_dir(photos_dir_) / collection
    files = sorted(f for f in folder.glob("*") if f.suffix.lower() in PHOTO_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise DataNotFoundError(f"No PNG or WebP photographs in {folder}.")
    if part == "all":
        return files
    if part not in ("train", "validation"):
        raise ValueError(f"part must be 'all', 'train' or 'validation', got {part!r}")
    return [f for i, f in enumerate(files) if (i % PHOTO_VALIDATION_EVERY == 0) == (part == "validation")]


def photo_version(collection, *, photos_dir_=None):
    """12 hex digits of the SHA-256 of the collection's file names and bytes: what a metric was measured on."""
    import hashlib

    digest = hashlib.sha256()
    for f in photo_files(collection, photos_dir_=photos_dir_):
        digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:12]


def _read(files, mode):
    import numpy as np
    from PIL import Image

    images = [np.asarray(Image.open(f).convert(mode)) for f in files]
    return [image[..., None] if image.ndim == 2 else image for image in images]


def photo_crops(files, crop, count, mode="RGB"):
    """`tf.data` of `count` random `crop` x `crop` crops (uint8 (crop, crop, C), label 0) of the images in
    `files`, each image drawn with probability proportional to its area (every pixel equally likely), the
    crop's place uniform; different crops every epoch, a fixed sequence for a fixed global seed."""
    import numpy as np
    import tensorflow as tf

    images = _read(files, mode)
    small = [f.name for f, image in zip(files, images) if min(image.shape[:2]) < crop]
    if small:
        raise ValueError(f"images smaller than the {crop}-pixel crop: {', '.join(small)}")
    flat = tf.constant(np.concatenate([image.reshape(-1) for image in images]))
    sizes = np.array([image.size for image in images])
    offsets = tf.constant(np.concatenate([[0], np.cumsum(sizes)[:-1]]), tf.int64)
    shapes = tf.constant([image.shape for image in images], tf.int64)
    log_areas = tf.constant(np.log([image.shape[0] * image.shape[1] for image in images])[None], tf.float32)
    channels = images[0].shape[-1]

    def take(_):
        i = tf.random.categorical(log_areas, 1)[0, 0]
        image = tf.reshape(flat[offsets[i] : offsets[i] + tf.reduce_prod(shapes[i])], shapes[i])
        return tf.image.random_crop(image, (crop, crop, channels)), tf.constant(0, tf.int64)

    return tf.data.Dataset.range(count).map(take)


def photo_images(files, mode="RGB", multiple=1):
    """`tf.data` of the whole images in `files` (their sizes may differ: batch them one by one), label 0;
    with `multiple`, each is cut at the bottom and right to sides that are multiples of it."""
    import tensorflow as tf

    images = [image[: image.shape[0] // multiple * multiple, : image.shape[1] // multiple * multiple]
              for image in _read(files, mode)]
    small = [f.name for f, image in zip(files, images) if not image.size]
    if small:
        raise ValueError(f"images smaller than {multiple} pixels a side: {', '.join(small)}")
    return tf.data.Dataset.from_generator(
        lambda: ((image, 0) for image in images),
        output_signature=(tf.TensorSpec((None, None, images[0].shape[-1]), tf.uint8), tf.TensorSpec((), tf.int64)),
    ).apply(tf.data.experimental.assert_cardinality(len(images)))


def _missing(name, folder):
    where = folder or "tfds's default folder"
    return (
        f"Data set '{name}' is not prepared in {where} and downloads are off. Set ZOO_DATA_DIR to a folder "
        "that holds it in the tfds layout, or allow the download with download=True or ZOO_DATA_DOWNLOAD=1."
    )
