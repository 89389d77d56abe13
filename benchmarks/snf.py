"""Self Normalizing Flows: training-step time of one SNF layer against its exact twin as D grows (the
paper's O(D^2) against O(D^3)), and the exact test NLL of the published MNIST flows, in one run.

A step is what training does for one layer on a batch of 100: forward, the loss
(Gaussian NLL minus the log-det term; plus lambda ||x - R W x||^2 for SNF),
gradients, an Adam update; compiled with tf.function, median of `--repeats`
steps after a warm-up. Dense layers at D = 256 ... 4096; "same" 3x3
convolutions with 4 channels on images of growing side (D = H W C).
With `--ood`: density as an anomaly detector, the NLL of MNIST test digits
against CIFAR-10 test images turned gray (luma) and resized to 28x28, as
histograms and the AUROC of NLL as the anomaly score.
With `--curves`: validation NLL against training wall clock for each SNF model and its twin, read from
the published training logs of the checkpoints (`training_log.json` beside the weights).
Writes results/snf_step_time.md, results/snf_nll.md, results/snf_ood.md, results/snf_equal_time.md,
docs/snf-step-time.png, docs/snf-curves.png and docs/snf-ood.png.

Usage:
    python benchmarks/snf.py                                         # step times, ~5 min on 2 cores
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/snf.py --no-timing --nll --ood
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))
from results_file import ROOT, markdown_table, write_results  # noqa: E402

BATCH = 100
DENSE_SIZES = (256, 512, 1024, 2048, 4096)
CONV_SIDES = (8, 12, 16, 24, 32)
CONV_CHANNELS = 4


def step_time(layer_cls, input_shape, repeats):
    """Median seconds of one training step of a fresh `layer_cls` on a batch of shape (BATCH, *input_shape)."""
    from zoo.snf.layers import SelfNormConv2D, SelfNormDense

    keras.utils.set_random_seed(0)
    layer = layer_cls()
    x = tf.constant(np.random.default_rng(0).normal(size=(BATCH, *input_shape)).astype("float32"))
    layer(x)
    optimizer = keras.optimizers.Adam(1e-4)
    selfnorm = isinstance(layer, (SelfNormDense, SelfNormConv2D))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            z, log_det = layer(x, training=True)
            loss = tf.reduce_mean(0.5 * tf.reduce_sum(tf.reshape(z, (BATCH, -1)) ** 2, -1)) - log_det
            if selfnorm:
                loss += tf.reduce_mean(layer.reconstruction_error(x))
        grads = tape.gradient(loss, layer.trainable_weights)
        optimizer.apply_gradients(zip(grads, layer.trainable_weights))
        return loss

    step(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def slope(sizes, seconds):
    """The exponent k of seconds ~ D^k, fitted by least squares on log-log over the given points."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def timing(repeats):
    from zoo.snf import ExactConv2D, ExactDense, SelfNormConv2D, SelfNormDense

    rows, series = [], {}
    cases = [("dense", d, (d,), SelfNormDense, ExactDense) for d in DENSE_SIZES]
    cases += [("conv 3x3", s * s * CONV_CHANNELS, (s, s, CONV_CHANNELS), SelfNormConv2D, ExactConv2D) for s in CONV_SIDES]
    for kind, d, shape, snf_cls, exact_cls in cases:
        snf_s, exact_s = step_time(snf_cls, shape, repeats), step_time(exact_cls, shape, repeats)
        series.setdefault(kind, []).append((d, snf_s, exact_s))
        size = f"{d}" if kind == "dense" else f"{d} ({shape[0]}x{shape[1]}x{shape[2]})"
        rows.append([kind, size, f"{1000 * snf_s:.2f}", f"{1000 * exact_s:.2f}", f"{exact_s / snf_s:.1f}"])
        print(rows[-1], flush=True)
    fits = {}
    for kind, points in series.items():
        d, snf_s, exact_s = (np.array(v) for v in zip(*points))
        big = d >= 1024  # above the sizes where fixed per-step costs dominate
        fits[kind] = (slope(d[big], snf_s[big]), slope(d[big], exact_s[big]))
    table = markdown_table(["layer", "D", "SNF ms/step", "exact ms/step", "exact / SNF"], rows)
    slopes = markdown_table(
        ["layer", "fitted exponent, SNF", "fitted exponent, exact"],
        [[k, f"{a:.2f}", f"{b:.2f}"] for k, (a, b) in fits.items()],
    )
    return series, fits, table, slopes


def plot(series, fits, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (kind, points) in zip(axes, series.items()):
        d, snf_s, exact_s = (np.array(v) for v in zip(*points))
        a, b = fits[kind]
        ax.loglog(d, 1000 * snf_s, "o-", label=f"SNF (slope {a:.2f})")
        ax.loglog(d, 1000 * exact_s, "s-", label=f"exact (slope {b:.2f})")
        ax.set_title(f"{kind}: one training step, batch {BATCH}")
        ax.set_xticks(d, [str(v) for v in d])
        ax.minorticks_off()
        ax.set_xlabel("D (dimensions)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("ms per step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def nll_table(data_dir=None):
    import zoo
    from zoo import registry, training

    rows = []
    for name in ("snf-fc-mnist", "exact-fc-mnist", "snf-conv-mnist", "exact-conv-mnist"):
        entry = zoo.info(name)
        if not entry["pretrained"]:
            rows.append([f"`{name}`", "not trained yet", "", "", "", ""])
            continue
        spec = registry.spec(name)
        metrics = training.evaluate(zoo.load(name), spec, data_dir=data_dir)
        run = entry["training"]
        epochs = run.get("total_epochs", run["epochs"])  # a chain of --from-pretrained runs counts whole
        wall_clock = run.get("total_wall_clock_s", run["wall_clock_s"])
        rows.append([f"`{name}`", f"{metrics['nll_nats']:.1f}", f"{metrics['bits_per_dim']:.4f}",
                     f"{entry['validation']['metrics']['nll_nats']:.1f}", str(epochs), f"{wall_clock / 60:.1f}"])
        print(rows[-1], flush=True)
    return markdown_table(["model", "test NLL (nats)", "test bits/dim", "validation NLL (nats)", "epochs",
                           "training wall clock (min, 1 core)"], rows)


def gray_cifar(n, data_dir=None):
    """The first `n` CIFAR-10 test images as 28x28 uint8 luma (ITU-R BT.601 weights, area resize)."""
    from PIL import Image

    from zoo import data

    images = next(iter(data.load("cifar10", "test", data_dir=data_dir).batch(n)))[0].numpy()
    luma = images.astype("float64") @ np.array([0.299, 0.587, 0.114])
    small = [np.asarray(Image.fromarray(np.round(g).astype("uint8")).resize((28, 28), Image.BOX)) for g in luma]
    return np.stack(small)[..., None]


def auroc(negatives, positives):
    """P(score of a positive > score of a negative), ties counted half (the Mann-Whitney statistic)."""
    scores = np.concatenate([negatives, positives])
    order = scores.argsort()
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    ordered = np.sort(scores)
    for value in np.unique(ordered[1:][np.diff(ordered) == 0]):  # tied scores share their mean rank
        ranks[scores == value] = ranks[scores == value].mean()
    n_neg, n_pos = len(negatives), len(positives)
    return float((ranks[n_neg:].sum() - n_pos * (n_pos + 1) / 2) / (n_neg * n_pos))


def ood(n, data_dir=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import zoo
    from zoo import data

    digits = next(iter(data.load("mnist", "test", data_dir=data_dir).batch(n)))[0].numpy()
    gray = gray_cifar(n, data_dir)
    names = [m for m in ("snf-fc-mnist", "exact-fc-mnist", "snf-conv-mnist", "exact-conv-mnist")
             if zoo.info(m)["pretrained"]]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    rows = []
    for ax, name in zip(axes[0], names):
        flow = zoo.load(name)
        nll_in, nll_out = -flow.log_prob(digits), -flow.log_prob(gray)
        score = auroc(nll_in, nll_out)
        rows.append([f"`{name}`", f"{np.median(nll_in):.0f}", f"{np.median(nll_out):.0f}", f"{score:.4f}"])
        print(rows[-1], flush=True)
        bins = np.linspace(min(nll_in.min(), nll_out.min()), np.percentile(nll_out, 99), 80)
        ax.hist(nll_in, bins, alpha=0.6, label="MNIST test")
        ax.hist(nll_out, bins, alpha=0.6, label="CIFAR-10 gray 28x28")
        ax.set_title(f"{name}: AUROC {score:.3f}")
        ax.set_xlabel("NLL (nats per image)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "snf-ood.png", dpi=100)
    print("wrote docs/snf-ood.png")
    return markdown_table(["model", f"median NLL, MNIST test ({n})", f"median NLL, CIFAR-10 gray ({n})",
                           "AUROC (NLL as anomaly score)"], rows)


PAIRS = {"dense (FC)": ("snf-fc-mnist", "exact-fc-mnist"), "conv": ("snf-conv-mnist", "exact-conv-mnist")}


def training_curve(name):
    """[(cumulative training seconds, validation NLL)] per epoch over the chain of runs that made the published
    `name`, read from its published training log (`training_log.json`)."""
    from zoo import training

    try:
        runs = training.load_training_log(name)["runs"]
    except FileNotFoundError as e:
        raise SystemExit(f"--curves reads the published training logs: {e}")
    points, elapsed = [], 0.0
    for run in runs:
        if run["epochs"] is None:
            raise SystemExit(f"{name}: the log of its run `{run['command']}` was not kept; retrain it for --curves")
        for epoch in run["epochs"]:
            elapsed += epoch["seconds"]
            points.append((elapsed, epoch["val_nll_nats"]))
    return points


def equal_time(path):
    """Validation NLL against training wall clock per pair: the table (at the SNF model's whole budget, where
    was its exact twin?) and the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (kind, (snf, exact)) in zip(axes, PAIRS.items()):
        curves = {n: training_curve(n) for n in (snf, exact)}
        best = {n: min(nll for _, nll in points) for n, points in curves.items()}
        budget = curves[snf][-1][0]
        reached = [nll for t, nll in curves[exact] if t <= budget]
        exact_then = min(reached) if reached else float("nan")
        caught_up = next((t for t, nll in curves[exact] if nll <= best[snf]), None)
        rows.append([kind, f"{budget / 60:.1f}", f"{best[snf]:.1f}", f"{exact_then:.1f}",
                     f"{caught_up / 60:.1f}" if caught_up else "not within its run",
                     f"{curves[exact][-1][0] / 60:.1f}", f"{best[exact]:.1f}"])
        for n, points in curves.items():
            t, nll = zip(*points)
            ax.plot(np.array(t) / 60, nll, "o-" if n == snf else "s-", ms=3, label=n)
        ax.axvline(budget / 60, color="gray", ls=":", lw=1)
        ax.set_ylim(min(v for c in curves.values() for _, v in c) - 10, max(v for c in curves.values() for _, v in c[2:]) + 10)
        ax.set(title=f"{kind}: validation NLL", xlabel="training wall clock (min, 1 core)", ylabel="nats")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return markdown_table(["pair", "SNF budget (min)", "SNF best validation NLL", "exact twin's best by then",
                           "exact twin reaches the SNF's best after (min)", "exact twin's budget (min)",
                           "exact twin's best validation NLL"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nll", action="store_true", help="also re-measure the four flows' test NLL")
    parser.add_argument("--ood", action="store_true", help="MNIST against gray CIFAR-10: NLL histograms, AUROC")
    parser.add_argument("--ood-images", type=int, default=10000)
    parser.add_argument("--no-timing", action="store_true", help="skip the step times")
    parser.add_argument("--curves", action="store_true",
                        help="validation NLL against training wall clock, from the published runs' records")
    args = parser.parse_args()
    if not args.no_timing:
        series, fits, table, slopes = timing(args.repeats)
        plot(series, fits, ROOT / "docs" / "snf-step-time.png")
        write_results("snf_step_time", "SNF layer against its exact twin: one training step, batch 100",
                      table + "\n\n" + slopes,
                      notes="Exponents are least-squares slopes of log time on log D over D >= 1024.")
    if args.nll:
        write_results("snf_nll", "Self Normalizing Flows on MNIST: exact negative log-likelihood", nll_table())
    if args.curves:
        write_results("snf_equal_time", "SNF against its exact twin at equal training wall clock (validation split)",
                      equal_time(ROOT / "docs" / "snf-curves.png"),
                      notes="Each run on one pinned core of the same machine; read from the published training logs.")
    if args.ood:
        write_results("snf_ood", "Density as an anomaly detector: MNIST test against gray CIFAR-10", ood(args.ood_images))


if __name__ == "__main__":
    main()
