"""Lossless compression of CIFAR-10 test images: idf-cifar10 against PNG, WebP, JPEG 2000, JPEG-LS, JPEG XL.

Every codec codes each image on its own (file bytes x 8 / (H*W*C), header
included), and every decode is checked to be bit-exact. idf-cifar10 is also
run on streams of `--batch-size` images (its speed target) and as one stream
for all images, against the model's ideal -log2 P(x).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/compression.py              # full test split, ~15 min
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/compression.py --images 500
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/compression.py --kodak      # Kodak photographs, ~25 min
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/compression.py --kodak \
        --candidate idf-photos=runs/idf-photos-low/best.weights.h5 --results compression_kodak_candidate

`--candidate NAME=WEIGHTS` adds a row for registered model NAME with other weights (a run's best epoch),
measured beside the published models in the same run: how a checkpoint is judged before it is published.
"""

import argparse
import sys
import time
from pathlib import Path

import imagecodecs
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import data  # noqa: E402
from zoo.idf import Codec  # noqa: E402


CLASSIC = {
    "PNG (level 9)": (lambda a: imagecodecs.png_encode(a, level=9), imagecodecs.png_decode),
    "JPEG-LS": (lambda a: imagecodecs.jpegls_encode(a, level=0), imagecodecs.jpegls_decode),
    "JPEG 2000 (reversible)": (lambda a: imagecodecs.jpeg2k_encode(a, level=0, reversible=True), imagecodecs.jpeg2k_decode),
    "WebP lossless (method 6)": (
        lambda a: imagecodecs.webp_encode(a, lossless=True, level=100, method=6), imagecodecs.webp_decode
    ),
    "JPEG XL lossless (effort 9)": (
        lambda a: imagecodecs.jpegxl_encode(a, lossless=True, effort=9), imagecodecs.jpegxl_decode
    ),
}


def _each(name, encode, decode, images):
    """(bits per dim, encode seconds, decode seconds) coding every item of `images` alone, checking each decode."""
    streams, start = [], time.perf_counter()
    for image in tqdm(images, desc=f"{name} encode", leave=False):
        streams.append(encode(image))
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = [decode(s) for s in tqdm(streams, desc=f"{name} decode", leave=False)]
    decode_s = time.perf_counter() - start
    for image, out in zip(images, decoded):
        if not np.array_equal(np.asarray(out).reshape(image.shape), image):
            raise SystemExit(f"{name} did not decode bit-exactly")
    bits = 8 * sum(len(s) for s in streams)
    return bits / sum(image.size for image in images), encode_s, decode_s


NOTES = ("bits/dim = file bytes x 8 / ({dims}); every decode checked bit-exact. An IDF codec's Mpx/s are timed "
         "after its first call (the first photograph coded and decoded once, untimed there; that call's seconds, "
         "mostly tracing the compiled graphs, are the last column); loading the model is not timed. An IDF "
         "model's default precision is bfloat16 for photo models on CPUs with bfloat16 matrix units (`Codec`); "
         "where it is, the float32 row beside it codes the same photographs in float32. The portable rows code "
         "them in exact arithmetic, whose streams decode bit for bit on any machine (`zoo/idf/exact.py`).")


def _first_call(codec, image):
    """'encode s / decode s' of a codec's first image: it traces the compiled graphs (once per process and
    image size class), which the Mpx/s columns, timed after it, do not include."""
    start = time.perf_counter()
    data = codec.compress(image)
    middle = time.perf_counter()
    codec.decompress(data)
    return f"{middle - start:.2f} / {time.perf_counter() - middle:.2f}"


def precisions(model):
    """[registered IDF `model`'s default codec, then its float32 one where the default is bfloat16]."""
    default = Codec.for_model(model)
    return [default] + ([Codec.for_model(model, "float32")] if default.precision != "float32" else [])


def kodak(models, candidates=(), results="compression_kodak"):
    """The Kodak tables, colour and gray: every classical codec, every IDF model in `models` and every
    (name, weights file) in `candidates`; written to results/`results`.md and `results`_gray.md."""
    codecs = []
    for model in models:
        default, *others = precisions(model) + [Codec.for_model(model, "portable")]
        codecs.append((f"zoo, `{model}`" + (", bfloat16 (default)" if default.precision == "bfloat16" else ""), default))
        codecs += [(f"zoo, `{model}`, {codec.precision}", codec) for codec in others]
    codecs += [(f"zoo, `{name}` with `{weights}`", Codec.for_weights(name, weights)) for name, weights in candidates]
    tables = {}
    for mode, label in (("RGB", "kodak"), ("L", "kodak_gray")):
        photos = [image if image.ndim == 3 else image[..., None] for _, image in data.photos("kodak24", mode=mode)]
        megapixels = sum(p.shape[0] * p.shape[1] for p in photos) / 1e6
        rows = []
        for name, (encode, decode) in CLASSIC.items():
            if mode == "L" and name.startswith("WebP"):
                continue  # WebP has no gray images
            flat = [p[..., 0] for p in photos] if mode == "L" else photos
            bpd, enc, dec = _each(name, encode, decode, flat)
            rows.append([name, f"{bpd:.3f}", f"{megapixels / enc:.2f}", f"{megapixels / dec:.2f}", ""])
        for row, codec in codecs:
            if photos[0].shape[-1] > codec.flow.image_shape[-1]:
                continue  # a gray model codes no colour
            first = _first_call(codec, photos[0])
            bpd, enc, dec = _each(row, codec.compress, codec.decompress, photos)
            rows.append([row, f"{bpd:.3f}", f"{megapixels / enc:.2f}", f"{megapixels / dec:.2f}", first])
        tables[label] = markdown_table(
            ["codec", "bits/dim", "encode Mpx/s", "decode Mpx/s", "first call s (encode / decode)"], rows)
        print(tables[label])
    n = len(photos)
    write_results(results, f"Lossless compression of the {n} Kodak photographs, each alone, colour",
                  tables["kodak"], notes=NOTES.format(dims="H x W x 3"))
    write_results(f"{results}_gray", f"Lossless compression of the {n} Kodak photographs, each alone, gray (luma)",
                  tables["kodak_gray"], notes=NOTES.format(dims="H x W"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="first N test images (default: all 10,000)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per stream in the batched run")
    parser.add_argument("--model", default="idf-cifar10")
    parser.add_argument("--kodak", action="store_true", help="the Kodak photographs instead, colour and gray")
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=WEIGHTS",
                        help="--kodak: also code with registered model NAME loaded with WEIGHTS (repeatable)")
    parser.add_argument("--results", default="compression_kodak", help="--kodak: results file name")
    args = parser.parse_args(argv)
    if args.candidate and not args.kodak:
        parser.error("--candidate needs --kodak")
    if args.kodak:
        candidates = [_candidate(parser, text) for text in args.candidate]
        return kodak(zoo.list_models("idf-*", pretrained=True), candidates, args.results)

    ds = data.load("cifar10", "test").take(args.images).batch(1000)
    images = np.concatenate([x.numpy() for x, _ in ds])
    codec = Codec.for_model(args.model)
    ideal = float(np.mean(np.concatenate([np.asarray(codec.flow(images[i : i + 500])) for i in range(0, len(images), 500)])))

    rows, n = [], len(images)
    bpd, enc, dec = _each(args.model, codec.compress, codec.decompress, images)
    rows.append((f"{args.model}, each image alone", bpd, ideal, n / enc, n / dec))
    batches = [images[i : i + args.batch_size] for i in range(0, len(images), args.batch_size)]
    bpd, enc, dec = _each(f"{args.model} x{args.batch_size}", codec.compress, codec.decompress, batches)
    rows.append((f"{args.model}, streams of {args.batch_size}", bpd, ideal, n / enc, n / dec))
    whole = codec.compress(images)
    whole_bpd = 8 * len(whole) / images.size
    rows.append((f"{args.model}, one stream of {len(images)}", whole_bpd, ideal, None, None))
    for name, (encode, decode) in CLASSIC.items():
        bpd, enc, dec = _each(name, encode, decode, images)
        rows.append((name, bpd, None, n / enc, n / dec))

    table = markdown_table(
        ["codec", "bits/dim", "ideal -log2 P bits/dim", "encode img/s", "decode img/s"],
        [[name, f"{bpd:.3f}", f"{ideal_bpd:.3f}" if ideal_bpd else "", f"{enc:.0f}" if enc else "", f"{dec:.0f}" if dec else ""]
         for name, bpd, ideal_bpd, enc, dec in rows],
    )
    print(table)
    write_results(
        "compression_cifar10",
        f"Lossless compression of the first {len(images)} CIFAR-10 test images (32x32x3), each decode checked bit-exact",
        table,
        notes=(f"bits/dim = file bytes x 8 / 3072 per image. One stream of {len(images)} images: payload "
               f"{100 * (whole_bpd / ideal - 1):+.2f}% against the model's ideal bits."),
    )

def _candidate(parser, text):
    """(registered name, existing weights file) of a --candidate NAME=WEIGHTS."""
    name, _, weights = text.partition("=")
    if not weights or name not in zoo.list_models("idf-*"):
        parser.error(f"--candidate wants NAME=WEIGHTS with NAME a registered IDF model, got {text!r}")
    if not Path(weights).is_file():
        parser.error(f"--candidate {text!r}: no such weights file")
    return name, weights


if __name__ == "__main__":
    main()
