"""PNG files and folders in and out of the IDF codec, for `zoo compress` / `zoo decompress`.

Every output file is written to a temporary name beside it and renamed when
complete, so it is written completely or not at all.

Example:
    >>> from zoo.idf import files
    >>> summary = files.compress_paths(["photo.png", "shots/"], "coded/")
    >>> files.decompress_paths(["coded/"], "restored/")
"""

import os
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from zoo import paths
from zoo.errors import ZooError
from zoo.idf.codec import compress, decompress

SUFFIX = ".idf"


def compress_paths(inputs, output, model=None, precision="auto"):
    """Code every PNG in `inputs` (files or folders) with `model` in `precision` (see `codec.compress`); returns a
    summary dict."""
    jobs = _plan(inputs, output, ".png", SUFFIX)
    png_bytes = coded_bytes = dims = 0
    for source, target in tqdm(jobs, desc="compress", unit="img", disable=len(jobs) < 2):
        pixels = read_png(source)
        data = compress(pixels, model=model, precision=precision)
        paths.write_atomically(target, data)
        png_bytes += source.stat().st_size
        coded_bytes += len(data)
        dims += pixels.size
    return {
        "images": len(jobs),
        "bits_per_dim": coded_bytes * 8 / dims,
        "png_bits_per_dim": png_bytes * 8 / dims,
        "ratio_to_png": png_bytes / coded_bytes,
    }


def decompress_paths(inputs, output):
    """Decode every `.idf` stream in `inputs` (files or folders) to PNG; returns a summary dict."""
    jobs = _plan(inputs, output, SUFFIX, ".png")
    for source, target in tqdm(jobs, desc="decompress", unit="img", disable=len(jobs) < 2):
        pixels = decompress(source.read_bytes())
        image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        paths.write_atomically(target, lambda f: image.save(f, format="PNG"))
    return {"images": len(jobs)}


def read_png(path):
    """uint8 (H, W, 1) or (H, W, 3) pixels of an 8-bit grey or RGB(A-free) PNG."""
    with Image.open(path) as image:
        if image.format != "PNG":
            raise ZooError(f"{path} is not a PNG file")
        if image.mode == "P":
            image = image.convert("RGB")
        if image.mode not in ("L", "RGB"):
            raise ZooError(f"{path}: PNG mode {image.mode} is not supported (8-bit grey or RGB only)")
        pixels = np.asarray(image)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _plan(inputs, output, in_suffix, out_suffix):
    """[(source, target)], with `output` read as `cp` reads its target.

    One input file and an `output` that is not an existing folder and does not
    end in a slash: `output` is the file. Otherwise `output` is a folder: files
    go into it by name; a single input folder has its contents mirrored under
    it; several input folders each get a subfolder of their name.
    """
    as_folder = str(output).endswith(("/", os.sep))
    output = Path(output)
    inputs = [Path(p) for p in inputs]
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise ZooError(f"no such file or folder: {', '.join(missing)}")
    if len(inputs) == 1 and inputs[0].is_file() and not as_folder and not output.is_dir():
        return [(inputs[0], output)]
    if output.exists() and not output.is_dir():
        raise ZooError(f"{output} is a file; with several inputs or a folder, -o must name a folder")
    jobs = []
    for item in inputs:
        if item.is_file():
            jobs.append((item, output / item.with_suffix(out_suffix).name))
        else:
            base = output if len(inputs) == 1 else output / item.name
            for source in sorted(item.rglob(f"*{in_suffix}")):
                jobs.append((source, base / source.relative_to(item).with_suffix(out_suffix)))
    if not jobs:
        raise ZooError(f"no {in_suffix} files in {', '.join(map(str, inputs))}")
    return jobs


