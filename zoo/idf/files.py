"""PNG files and folders in and out of the IDF codec, for `zoo compress` / `zoo decompress`.

Every output file is written to a temporary name beside it and renamed when
complete, so it is written completely or not at all. Several files are coded
at a time (`jobs`, 2 by default): while one waits on the NumPy and rANS work
between the network's passes, which runs on one core, the other's network
passes use the rest; the bytes are the same as one at a time
(`benchmarks/codec_folder.py`).

Example:
    >>> from zoo.idf import files
    >>> summary = files.compress_paths(["photo.png", "shots/"], "coded/")
    >>> files.decompress_paths(["coded/"], "restored/", jobs=1)   # one file at a time: half the memory
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from zoo import paths
from zoo.errors import ZooError
from zoo.idf.codec import _Header, compress, decompress

SUFFIX = ".idf"
JOBS = 2  # files coded at a time by default


def compress_paths(inputs, output, model=None, precision="auto", jobs=JOBS):
    """Code every PNG in `inputs` (files or folders) with `model` in `precision` (see `codec.compress`), `jobs`
    files at a time; returns a summary dict."""

    def code(source, target):
        pixels = read_png(source)
        data = compress(pixels, model=model, precision=precision)
        paths.write_atomically(target, data)
        return source.stat().st_size, len(data), pixels.size, _Header.parse(data).precision

    plan = _plan(inputs, output, ".png", SUFFIX)
    coded = _each(code, plan, jobs, "compress")
    png_bytes, coded_bytes, dims = np.sum([c[:3] for c in coded], axis=0, dtype=np.int64).tolist()
    return {
        "images": len(plan),
        "bits_per_dim": coded_bytes * 8 / dims,
        "png_bits_per_dim": png_bytes * 8 / dims,
        "ratio_to_png": png_bytes / coded_bytes,
        "precisions": sorted({c[3] for c in coded}),  # the streams' arithmetic: which machines decode them
    }


def decompress_paths(inputs, output, jobs=JOBS):
    """Decode every `.idf` stream in `inputs` (files or folders) to PNG, `jobs` files at a time; returns a
    summary dict."""

    def restore(source, target):
        pixels = decompress(source.read_bytes())
        image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        paths.write_atomically(target, lambda f: image.save(f, format="PNG"))

    plan = _plan(inputs, output, SUFFIX, ".png")
    _each(restore, plan, jobs, "decompress")
    return {"images": len(plan)}


def _each(work, plan, jobs, desc):
    """[work(source, target) for each pair of `plan`], `jobs` at a time in threads (the codec's networks and
    NumPy release the GIL), with a progress bar. After an error (or Ctrl-C) no further pair starts; those
    running finish, so their files are complete, and the first error in `plan`'s order is raised."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ZooError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    with tqdm(total=len(plan), desc=desc, unit="img", disable=len(plan) < 2) as progress:
        if jobs == 1 or len(plan) == 1:
            results = []
            for pair in plan:
                results.append(work(*pair))
                progress.update()
            return results
        pool = ThreadPoolExecutor(min(jobs, len(plan)))

        def finished(future):
            if future.cancelled():
                return
            progress.update()
            if future.exception() is not None:
                pool.shutdown(wait=False, cancel_futures=True)

        futures = []
        for pair in plan:
            try:
                futures.append(pool.submit(work, *pair))
            except RuntimeError:  # an error has shut the pool already
                break
            futures[-1].add_done_callback(finished)
        try:
            pool.shutdown(wait=True)
        except BaseException:  # Ctrl-C while waiting
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()
    return [future.result() for future in futures]


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


