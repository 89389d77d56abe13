"""Where a PBNet loses accuracy on the way to its deployed binary network, on the validation split: the
stochastic network as trained (activations passed on as their means, phi = 2q - 1), its MAP binary network
(sign of theta, hard sign activations) with the batch-norm statistics it trained with folded in, and the same
MAP network with them re-estimated on 20 batches of training images (the published metric); beside them the
straight-through BNN of the same architecture and budget, and how decided the weights are (mean |theta|).

If the stochastic network already trails the BNN, the MAP step is not where the PBNet loses.

Writes results/blrnet_map_gap.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/blrnet_map_gap.py blrnet-mnist blrnet-cifar10
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from blrnet_anneal import theta_summary  # noqa: E402
from results_file import markdown_table, write_results  # noqa: E402


def accuracies(model, recipe, data_dir=None):
    """{row: validation accuracy} of a PBNet `model`: stochastic, MAP with its own statistics, MAP re-estimated."""
    from zoo.blrnet import recipes
    from zoo.blrnet.deploy import to_binary

    nets = {"stochastic network (mean activations)": model, "MAP binary network, trained statistics": to_binary(model, "map"),
            "MAP binary network, re-estimated statistics": to_binary(model, "map", data=recipes.bn_images(recipe, data_dir))}
    return recipes.accuracies(nets, recipe, recipe.validation_split, data_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", help="published PBNets (blrnet-mnist, blrnet-cifar10)")
    args = parser.parse_args(argv)
    import zoo
    from zoo import manifest, registry

    rows = []
    for name in args.names:
        model = zoo.load(name)
        decided = f"{theta_summary(model)[0]:.3f}"
        for row, value in accuracies(model, registry.spec(name).recipe).items():
            rows.append([f"`{name}`", row, f"{value:.4f}", decided])
        bnn = name.replace("blrnet-", "blrnet-ste-")
        bnn_validation = manifest.entry(bnn)["validation"]["metrics"]["accuracy"]
        rows.append([f"`{bnn}`", "straight-through BNN (published, its manifest)", f"{bnn_validation:.4f}", ""])
    table = markdown_table(["model", "network", "validation accuracy", "mean abs(theta)"], rows)
    print(table)
    write_results("blrnet_map_gap", "Where a PBNet loses accuracy on the way to its binary network (validation split)", table)


if __name__ == "__main__":
    main()
