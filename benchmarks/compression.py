"""Lossless compression of CIFAR-10 test images: idf-cifar10 against PNG, WebP, JPEG 2000, JPEG-LS, JPEG XL.

Every codec codes each image on its own (file bytes x 8 / (H*W*C), header
included), and every decode is checked to be bit-exact. idf-cifar10 is also
run on streams of `--batch-size` images (its speed target) and as one stream
for all images, against the model's ideal -log2 P(x).

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/compression.py              # full test split, ~15 min
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/compression.py --images 500
"""

import argparse
import time

import imagecodecs
import numpy as np
from results_file import markdown_table, write_results
from tqdm import tqdm

from zoo import data
from zoo.idf import Codec

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
    """(bits per dim, encode items/s, decode items/s) coding every item of `images` alone, checking each decode."""
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
    return bits / sum(image.size for image in images), len(images) / encode_s, len(images) / decode_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="first N test images (default: all 10,000)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per stream in the batched run")
    parser.add_argument("--model", default="idf-cifar10")
    args = parser.parse_args(argv)

    ds = data.load("cifar10", "test").take(args.images).batch(1000)
    images = np.concatenate([x.numpy() for x, _ in ds])
    codec = Codec.for_model(args.model)
    ideal = float(np.mean(np.concatenate([np.asarray(codec.flow(images[i : i + 500])) for i in range(0, len(images), 500)])))

    rows = []
    bpd, enc, dec = _each(args.model, codec.compress, codec.decompress, images)
    rows.append((f"{args.model}, each image alone", bpd, ideal, enc, dec))
    batches = [images[i : i + args.batch_size] for i in range(0, len(images), args.batch_size)]
    bpd, enc, dec = _each(f"{args.model} x{args.batch_size}", codec.compress, codec.decompress, batches)
    rows.append((f"{args.model}, streams of {args.batch_size}", bpd, ideal, enc * args.batch_size, dec * args.batch_size))
    whole = codec.compress(images)
    whole_bpd = 8 * len(whole) / images.size
    rows.append((f"{args.model}, one stream of {len(images)}", whole_bpd, ideal, None, None))
    for name, (encode, decode) in CLASSIC.items():
        bpd, enc, dec = _each(name, encode, decode, images)
        rows.append((name, bpd, None, enc, dec))

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

if __name__ == "__main__":
    main()
