"""Binary networks on one data set, side by side in one run: the full-precision net, the straight-through
BNN, and the PBNet deployed as its MAP, ternary and sampled binary networks and as anytime ensembles;
with calibration, error-coverage and out-of-distribution detection.

Batch norms of every network made from the PBNet are re-estimated on the first 20 batches of 100
training images (`zoo.blrnet.recipes.bn_images`), and, in a row of its own, the BNN's too. Out-of-distribution images: for MNIST, CIFAR-10 test
images turned gray (BT.601 luma) and resized to 28x28; for CIFAR-10, AID images resized to 32x32.
With the LiteRT files of the FPNet and of the MAP binary net (float32 and
int8 weights, the latter in `blrnet.zero_one_form`): size, latency and agreement with Keras on the test
images.
Writes results/blrnet_<data>.md, results/blrnet_<data>_uncertainty.md,
results/blrnet_<data>_litert.md and docs/blrnet-<data>.png.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/blrnet.py mnist
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/blrnet.py cifar10 --ensembles 1 2 5 16
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_file import ROOT, markdown_table, write_results  # noqa: E402
from snf import auroc, gray_cifar  # noqa: E402


def ece(probs, labels, bins=15):
    """Expected calibration error: the bin-weighted |accuracy - confidence| over `bins` equal-width bins."""
    confidence, predicted = probs.max(-1), probs.argmax(-1)
    correct = predicted == labels
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def coverage_curve(probs, labels, score, fractions=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5)):
    """Accuracy on what remains when the `fraction` with the highest uncertainty `score` is rejected."""
    order = np.argsort(score)  # most certain first
    correct = (probs.argmax(-1) == labels)[order]
    return [float(correct[: max(1, int(round(len(labels) * (1 - f))))].mean()) for f in fractions]


def entropy(probs):
    return -np.sum(probs * np.log(np.clip(probs, 1e-12, 1.0)), axis=-1)


def _split(dataset, split, n, data_dir=None):
    from zoo import data

    images, labels = next(iter(data.load(dataset, split, data_dir=data_dir).batch(n)))
    return images.numpy(), labels.numpy()


def outliers(dataset, n, data_dir=None):
    """Out-of-distribution images for a model of `dataset`, shaped like its inputs."""
    if dataset == "mnist":
        return gray_cifar(n, data_dir), "CIFAR-10 test, gray 28x28"
    from PIL import Image

    aid, _ = _split("aid64", "test", n, data_dir)
    return np.stack([np.asarray(Image.fromarray(a).resize((32, 32), Image.BOX)) for a in aid]), "AID test, 32x32"


def litert_file(model, samples, int8=False):
    """A LiteRT flatbuffer of `model`, checked against Keras on `samples` by `zoo.export.to_litert` (float32
    weights; or, for a binary network, its `zero_one_form` with int8 weights, as `zoo export --binary` writes)."""
    import tempfile

    from zoo import blrnet, export

    with tempfile.TemporaryDirectory() as folder:
        report = export.to_litert(blrnet.zero_one_form(model) if int8 else model, Path(folder) / "m.tflite",
                                  samples=samples, int8_weights=int8)
        return Path(report.path).read_bytes()


def litert_rows(models, x, y, reference):
    """Size, latency, accuracy and agreement with `reference` predictions of each model's LiteRT file."""
    import time

    from ai_edge_litert.interpreter import Interpreter

    rows = []
    for label, model, int8 in models:
        content = litert_file(model, x[:16], int8)
        runner = Interpreter(model_content=content).get_signature_runner()
        (name,) = runner.get_input_details()
        start = time.perf_counter()
        probs = np.concatenate([list(runner(**{name: x[i:i + 500]}).values())[0] for i in range(0, len(x), 500)])
        ms = 1000 * (time.perf_counter() - start) / len(x)
        predicted = probs.argmax(-1)
        rows.append([label, f"{len(content) / 1024:.0f}", f"{ms:.3f}", f"{100 * (predicted == y).mean():.2f}",
                     f"{100 * (predicted == reference).mean():.2f}"])
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("mnist", "cifar10"))
    parser.add_argument("--images", type=int, default=10000, help="test images (default: the whole split)")
    parser.add_argument("--ensembles", type=int, nargs="+", default=[1, 2, 5, 16])
    args = parser.parse_args(argv)

    import zoo
    from zoo import blrnet, registry
    from zoo.blrnet.recipes import bn_images

    names = {"fp": f"blrnet-fp-{args.dataset}", "ste": f"blrnet-ste-{args.dataset}", "pbnet": f"blrnet-{args.dataset}"}
    missing = [n for n in names.values() if not zoo.info(n)["pretrained"]]
    if missing:
        raise SystemExit(f"not published yet: {', '.join(missing)}")
    x, y = _split(args.dataset, "test", args.images)
    odd, odd_name = outliers(args.dataset, len(x))
    pbnet = zoo.load(names["pbnet"])
    calibration = bn_images(registry.spec(names["pbnet"]).recipe)

    nets = {
        f"FPNet (`{names['fp']}`)": zoo.load(names["fp"]),
        f"BNN, straight-through (`{names['ste']}`)": zoo.load(names["ste"]),
        "BNN, straight-through, batch norm re-estimated": blrnet.reestimate_batch_norm(zoo.load(names["ste"]), calibration),
        "PBNet-S, MAP binary net": blrnet.to_binary(pbnet, "map", data=calibration),
        "PBNet-S, ternary net": blrnet.to_binary(pbnet, "ternary", data=calibration),
        "PBNet-S, one sampled binary net": blrnet.to_binary(pbnet, "sample", seed=0, data=calibration),
    }
    results, rows = {}, []
    for label, net in nets.items():
        probs = net.predict(x, batch_size=500, verbose=0)
        results[label] = probs, net.predict(odd, batch_size=500, verbose=0)
    ensemble = blrnet.ensemble(pbnet, max(args.ensembles), calibration)
    full = blrnet.predictive_uncertainty(ensemble, x)
    full_odd = blrnet.predictive_uncertainty(ensemble, odd)
    for k in args.ensembles:
        results[f"PBNet-S, ensemble of {k} sampled binary nets"] = (full["member_probs"][:k].mean(0),
                                                                     full_odd["member_probs"][:k].mean(0))
    for label, (probs, odd_probs) in results.items():
        accuracy = float((probs.argmax(-1) == y).mean())
        se = np.sqrt(accuracy * (1 - accuracy) / len(y))
        rows.append([label, f"{100 * accuracy:.2f} +- {100 * se:.2f}", f"{ece(probs, y):.4f}",
                     f"{auroc(entropy(probs), entropy(odd_probs)):.4f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["network", "test accuracy % (+- s.e.)", "ECE (15 bins)",
                            f"OOD AUROC, entropy ({odd_name})"], rows)

    fractions = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
    k = max(args.ensembles)
    map_probs = results["PBNet-S, MAP binary net"][0]
    curves = {
        "MAP binary net, by entropy": coverage_curve(map_probs, y, entropy(map_probs), fractions),
        f"ensemble of {k}, by entropy": coverage_curve(full["probs"], y, full["entropy"], fractions),
        f"ensemble of {k}, by top-class variance": coverage_curve(full["probs"], y, full["top_class_variance"], fractions),
    }
    coverage = markdown_table(["PBNet-S, rejecting the least certain"] + [f"{int(100 * f)}%" for f in fractions],
                              [[name] + [f"{100 * a:.2f}" for a in accs] for name, accs in curves.items()])
    map_net = nets["PBNet-S, MAP binary net"]
    reference = map_net.predict(x, batch_size=500, verbose=0).argmax(-1)
    lite = litert_rows([
        (f"FPNet, float32 weights (`{names['fp']}`)", nets[f"FPNet (`{names['fp']}`)"], False),
        ("PBNet-S MAP binary net, float32 weights (+-1)", map_net, False),
        ("PBNet-S MAP binary net, int8 weights ({0, 1} form, dynamic-range quantization)", map_net, True),
    ], x, y, reference)
    lite_table = markdown_table(["LiteRT file", "KiB", "ms / image (batch 500)", "test accuracy %",
                                 "same prediction as the Keras MAP net %"], lite)
    write_results(f"blrnet_{args.dataset}", f"Binary networks on {args.dataset}: accuracy, calibration, OOD", table)
    write_results(f"blrnet_{args.dataset}_litert", f"Binary networks on {args.dataset} as LiteRT files", lite_table)
    write_results(f"blrnet_{args.dataset}_uncertainty",
                  f"PBNet-S on {args.dataset}: accuracy on what remains after rejecting the least certain",
                  coverage)
    _plot(args.dataset, results, curves, fractions, y, args.ensembles)


def _plot(dataset, results, curves, fractions, labels, ks):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    accs = [float((results[f"PBNet-S, ensemble of {k} sampled binary nets"][0].argmax(-1) == labels).mean()) for k in ks]
    axes[0].plot(ks, [100 * a for a in accs], "o-", label="ensemble of K sampled nets")
    map_acc = float((results["PBNet-S, MAP binary net"][0].argmax(-1) == labels).mean())
    axes[0].axhline(100 * map_acc, color="gray", ls="--", label="MAP binary net")
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("K")
    axes[0].set_ylabel("test accuracy %")
    axes[0].set_title(f"{dataset}: anytime ensemble")
    axes[0].legend()
    for name, accs in curves.items():
        axes[1].plot([100 * f for f in fractions], [100 * a for a in accs], "o-", label=name)
    axes[1].set_xlabel("% rejected (least certain first)")
    axes[1].set_ylabel("accuracy on the rest %")
    axes[1].set_title("error-coverage")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = ROOT / "docs" / f"blrnet-{dataset}.png"
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
