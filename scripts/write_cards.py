"""Rewrite the model card (README.md) of every checkpoint in hub/ from its manifest entry, and pin the new
cards' hashes in the manifest. The weights and configs are not touched.

Usage:
    python scripts/write_cards.py
"""

import zoo  # noqa: F401  (registers the models)
from zoo import manifest, paths, registry, training


def main():
    for name, entry in sorted(manifest.read().items()):
        folder = paths.LOCAL_HUB / entry["repo_id"]
        card = training.model_card(registry.spec(name), entry)
        if (folder / "README.md").read_text() == card:
            continue
        (folder / "README.md").write_text(card)
        entry["files"] = manifest.describe_files(folder)
        manifest.write_entry(name, entry)
        print(f"{name}: card rewritten")


if __name__ == "__main__":
    main()
