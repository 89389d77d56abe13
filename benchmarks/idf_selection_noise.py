"""Which validation metric should pick an idf-photos checkpoint: is the bfloat16 codec's excess over float32 a
property of a checkpoint, which would show on other photographs too, or noise of each photograph?

For each checkpoint (a run's weights as LABEL=WEIGHTS), the ideal bits per dimension of each validation
photograph (every tenth of `photos/train`, never trained on) in float32 and in the bfloat16 codec's
arithmetic (`recipes.photo_bits_by_image`, what the harness averages). Then, over random halves of the
photographs:

- the correlation, across the checkpoints, of one half's mean with the other half's: for the float32 bits,
  and for the excess (bfloat16 minus float32). Near 1: the half ranks the checkpoints as the other half
  does; near 0 or below: the half's differences are its photographs' own;
- each rule (the least bfloat16 bits, or the least float32 bits, on one half) picks a checkpoint; the
  table's notes give how many more bfloat16 bits the other half costs under the first rule's pick than
  under the second's, averaged over the splits (with its standard error over them: the splits overlap, so
  it understates the noise).

Only validation photographs are read: this chooses the recipe's metric, so Kodak has no say.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_selection_noise.py \
        "mp-c5=runs/idf-photos-mp-c5/best.weights.h5" "mp-c6=runs/idf-photos-mp-c6/best.weights.h5" ...

Writes results/idf_selection_noise.md.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import registry  # noqa: E402
from zoo.idf.recipes import photo_bits_by_image  # noqa: E402


def split_halves(f32, bf16, splits, seed=0):
    """Over `splits` random halves of the images (columns of the checkpoints x images arrays): the mean
    correlation across checkpoints of one half with the other for the float32 bits and for the excess, and
    the other half's mean bfloat16 bits under the checkpoint the bfloat16 rule picks on the first half minus
    under the float32 rule's pick (mean and standard error over the splits).

    Example:
        >>> f32, bf16 = np.array([[3.0, 3.1], [2.9, 3.0]]), np.array([[3.1, 3.2], [3.0, 3.0]])
        >>> split_halves(f32, bf16, 10)["bfloat16 rule"]  # both rules pick the second checkpoint
        0.0
    """
    rng = np.random.default_rng(seed)
    images = f32.shape[1]
    excess = bf16 - f32
    out = {"float32": [], "excess": [], "bfloat16 rule": []}
    for _ in range(splits):
        order = rng.permutation(images)
        a, b = order[: images // 2], order[images // 2 :]
        if f32.shape[0] > 2:
            out["float32"].append(np.corrcoef(f32[:, a].mean(1), f32[:, b].mean(1))[0, 1])
            out["excess"].append(np.corrcoef(excess[:, a].mean(1), excess[:, b].mean(1))[0, 1])
        out["bfloat16 rule"].append(bf16[np.argmin(bf16[:, a].mean(1)), b].mean()
                                    - bf16[np.argmin(f32[:, a].mean(1)), b].mean())
    result = {name: float(np.mean(values)) if values else float("nan") for name, values in out.items()}
    result["bfloat16 rule, se"] = float(np.std(out["bfloat16 rule"], ddof=1) / np.sqrt(splits)) if splits > 1 else 0.0
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", metavar="LABEL=WEIGHTS", help="idf-photos weights files")
    parser.add_argument("--splits", type=int, default=2000, help="random halves of the photographs")
    parser.add_argument("--results", default="idf_selection_noise", help="results file name")
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 3:
        parser.error("give at least 3 checkpoints: a correlation across 2 is always +-1")
    checkpoints = [text.split("=", 1) for text in args.checkpoints]
    if any(len(pair) != 2 for pair in checkpoints):
        parser.error("each checkpoint is LABEL=WEIGHTS")
    spec = registry.spec("idf-photos")
    flow = zoo.load("idf-photos")  # built; each checkpoint's weights replace the published ones
    f32, bf16 = [], []
    for label, weights in tqdm(checkpoints, desc="checkpoints"):
        flow.load_weights(weights)
        bits = photo_bits_by_image(flow, spec.recipe, spec.recipe.validation_split)
        f32.append(bits["bpd"])
        bf16.append(bits["bpd_bfloat16"])
    f32, bf16 = np.array(f32), np.array(bf16)
    excess = bf16 - f32
    rows = [[label, f"{f.mean():.6f}", f"{b.mean():.6f}", f"{e.mean():+.5f}", f"{e.min():+.4f} .. {e.max():+.4f}"]
            for (label, _), f, b, e in zip(checkpoints, f32, bf16, excess)]
    table = markdown_table(["checkpoint", "float32", "bfloat16 codec", "excess", "excess, by photograph"], rows)
    halves = split_halves(f32, bf16, args.splits)
    noise = excess.std(1, ddof=1).mean() / np.sqrt(f32.shape[1])
    notes = (f"Ideal bits/dim, mean of the {f32.shape[1]} validation photographs. Over {args.splits} random halves: "
             f"correlation across the checkpoints of one half's mean with the other's, float32 bits "
             f"{halves['float32']:+.2f}, excess {halves['excess']:+.2f}. The checkpoints' mean excesses spread by "
             f"{excess.mean(1).std(ddof=1):.5f} (sd); the photographs' own spread alone would give {noise:.5f}. "
             f"A checkpoint picked on one half by the bfloat16 codec's bits costs the other half "
             f"{halves['bfloat16 rule']:+.6f} (+- {halves['bfloat16 rule, se']:.6f}) in them against one picked by "
             f"float32 bits.")
    print(table, "\n", notes, flush=True)
    write_results(args.results, "idf-photos checkpoints: float32 and the bfloat16 codec on the validation photographs",
                  table, notes=notes)


if __name__ == "__main__":
    main()
