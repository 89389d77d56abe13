"""Write the README's catalogue table, results/catalogue.md, from the manifest: every published checkpoint
with its test metric (measured once), its validation metric and how it was chosen.

Usage:
    python scripts/catalogue.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from results_file import markdown_table, write_results  # noqa: E402

import zoo  # noqa: E402
from zoo import manifest, registry  # noqa: E402

METRIC_NAMES = {
    "accuracy": "accuracy",
    "map_accuracy": "accuracy of the MAP binary network",
    "bpd": "bits/dim (ideal -log2 P, lower is better)",
    "bpd_bfloat16": "bits/dim in the bfloat16 codec's arithmetic (ideal -log2 P, lower is better)",
    "nll_nats": "NLL, nats per image (lower is better)",
}


def rows():
    out = []
    for name, item in sorted(manifest.read().items()):
        spec = registry.spec(name)
        metric = manifest.selected_on(item, spec.recipe.metric)
        ds = item["dataset"]
        validation = item.get("validation", {}).get("metrics", {}).get(metric)
        hub = "not yet (in-repo copy)" if item["revision"] is None else f"`{item['revision'][:8]}`"
        out.append([
            f"`{name}`",
            f"{ds['name']} {ds['version']} ({ds['split']}, {ds['examples']:,})",
            METRIC_NAMES.get(metric, metric),
            f"{item['metrics'][metric]:.4f}",
            "" if validation is None else f"{validation:.4f}",
            item["selection"],
            f"{spec.builder().count_params():,}",
            hub,
        ])
    return out


def main():
    table = markdown_table(["model", "data (split)", "metric", "test", "validation", "selected on", "params", "on the Hub"],
                           rows())
    write_results("catalogue", "The catalogue: every published checkpoint, from weights_manifest.json", table)


if __name__ == "__main__":
    main()
