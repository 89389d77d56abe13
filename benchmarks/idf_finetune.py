"""Your own codec: a published IDF model fine-tuned in Keras on a few dozen images of one kind, measured on
held-back images of that kind (the README's fine-tuning example).

For each AID aerial-scene class named, the flow is fine-tuned with `model.fit` on the class's first
`--train-images` images of the aid64 train split and then codes the class's images of the aid64 test
split (never trained on), each image alone with `idf.compress(image, model=flow)`, every decode checked
bit-exact. PNG and JPEG XL code the same held-back images for scale. The peak learning rate is chosen per
class from `--peaks` on the last `--validation-images` of the fine-tuning images (the flow is fitted on
the rest); epochs, batch and flips are fixed in advance. Nothing is chosen on the held-back images.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_finetune.py                  # idf-photos, 3 classes
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_finetune.py --model idf-cifar10 --classes Forest
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from compression import CLASSIC, _each  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import data, idf  # noqa: E402
from zoo.idf.recipes import bpd, warmup_cosine  # noqa: E402


def class_images(split, label, limit=None):
    """uint8 aid64 images of class `label` in `split`, in the split's stored order."""
    names = data.info("aid64").features["label"].names
    index = names.index(label)
    images = [image for image, y in data.load("aid64", split).as_numpy_iterator() if y == index]
    return np.stack(images[:limit])


def finetune(flow, images, epochs, batch_size, peak):
    """Fit `flow` to `images` with Adam (linear warm-up, cosine decay to `peak`/20) and random flips."""
    steps = epochs * -(-len(images) // batch_size)
    flow.compile(optimizer=warmup_cosine(steps, peak=peak), loss=bpd)
    dataset = (tf.data.Dataset.from_tensor_slices((images, np.zeros(len(images), np.float32)))
               .shuffle(len(images), seed=0).map(lambda x, y: (tf.image.random_flip_left_right(x), y))
               .batch(batch_size))
    start = time.perf_counter()
    flow.fit(dataset, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def ideal_bpd(flow, images):
    """The flow's mean -log2 P per dimension of `images` (what the codec approaches)."""
    return float(np.mean(flow.predict(images, batch_size=16, verbose=0)))


def best_finetune(name, images, validation, peaks, epochs, batch_size):
    """(flow, peak, validation bpd, seconds) of the peak rate whose fine-tuned flow is best on `validation`;
    peak 0 (the flow as published) when no rate improves on it."""
    flow = zoo.load(name)
    runs = [(flow, 0.0, ideal_bpd(flow, validation), 0.0)]
    print(f"  as published: validation {runs[0][2]:.3f} bits/dim")
    for peak in peaks:
        flow = zoo.load(name)
        seconds = finetune(flow, images, epochs, batch_size, peak)
        runs.append((flow, peak, ideal_bpd(flow, validation), seconds))
        print(f"  peak {peak:g}: validation {runs[-1][2]:.3f} bits/dim")
    return min(runs, key=lambda run: run[2])


def coded_bpd(flow, images):
    """Bits per dimension of each image coded alone by `flow` (header included), decodes checked."""
    streams = [idf.compress(image, model=flow) for image in tqdm(images, desc="idf encode", leave=False)]
    for image, stream in zip(images, streams):
        if not np.array_equal(idf.decompress(stream, model=flow), image):
            raise SystemExit("the fine-tuned flow did not decode bit-exactly")
    return 8 * sum(map(len, streams)) / images.size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="idf-photos")
    parser.add_argument("--classes", nargs="+", default=["Desert", "Forest", "DenseResidential"])
    parser.add_argument("--train-images", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--validation-images", type=int, default=8)
    parser.add_argument("--peaks", type=float, nargs="+", default=[1e-5, 3e-5, 1e-4, 3e-4])
    args = parser.parse_args()

    rows = []
    for label in args.classes:
        train, held = class_images("train", label, args.train_images), class_images("test", label)
        fit, validation = train[: -args.validation_images], train[-args.validation_images :]
        before = coded_bpd(zoo.load(args.model), held)
        flow, peak, _, seconds = best_finetune(args.model, fit, validation, args.peaks, args.epochs, args.batch_size)
        after = coded_bpd(flow, held)
        classic = {name: _each(name, *CLASSIC[name], list(held))[0]
                   for name in ("PNG (level 9)", "JPEG XL lossless (effort 9)")}
        print(f"{label}: {before:.3f} -> {after:.3f} bits/dim ({seconds:.0f} s); "
              + ", ".join(f"{k} {v:.3f}" for k, v in classic.items()))
        rows.append([label, f"{len(fit)} + {len(validation)} / {len(held)}", f"{before:.3f}", f"**{after:.3f}**",
                     f"{100 * (after / before - 1):+.1f}%", f"{peak:g}", f"{seconds:.0f} s",
                     *(f"{v:.3f}" for v in classic.values())])
    header = ["AID class", "fit + validation / held-back images", f"`{args.model}` bits/dim", "fine-tuned bits/dim",
              "change", "peak rate (validation)", "fine-tune time", "PNG (level 9)", "JPEG XL (effort 9)"]
    write_results("idf_finetune", f"`{args.model}` fine-tuned on {args.train_images} aerial images of one AID class, "
                  "coded on that class's held-back (test split) images, each 64x64 image alone",
                  markdown_table(header, rows),
                  notes=f"Fixed in advance: {args.epochs} epochs, batch {args.batch_size}, Adam with a linear warm-up over "
                        f"the first tenth of the steps then cosine decay, random horizontal flips. The peak rate is chosen "
                        f"per class from {', '.join(f'{p:g}' for p in args.peaks)} on the validation images.")


if __name__ == "__main__":
    main()
