"""`weights_manifest.json`: what every published checkpoint is, byte for byte.

One entry per model::

    {
      "repo_id": "zoo-models/cnn-small-mnist",  # the Hub model repo
      "revision": null,        # 40-hex Hub commit; null until published there
      "files": {"model.weights.h5": {"sha256": "...", "size": 123}, ...},
      "dataset": {"name": "mnist", "split": "test", "version": "3.0.1", "examples": 10000},
      "metrics": {"accuracy": 0.991},
      "commands": {"train": "zoo train ...", "eval": "zoo eval ..."},
      "history": [{"date": "...", "metrics": {...}, "files": {...}}]
    }

`history` lists every checkpoint published under the name, oldest first; one
that was replaced because its selection turned out to be flawed carries
`"withdrawn": {"date", "reason"}`, and the entry's own fields are those of the
last one that was not withdrawn.

Example:
    >>> from zoo import manifest
    >>> manifest.entry("cnn-small-mnist")["metrics"]
    {'accuracy': ...}
"""

import hashlib
import json
import re
from pathlib import Path

from zoo import paths

FORMAT = 1
_COMMIT = re.compile(r"[0-9a-f]{40}")


def read(path=None):
    """All entries, as a dict from model name to entry."""
    path = Path(path or paths.MANIFEST_PATH)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported manifest format {data.get('format')!r}, expected {FORMAT}")
    models = data["models"]
    for name, item in models.items():
        revision = item.get("revision")
        if revision is not None and not _COMMIT.fullmatch(revision):
            raise ValueError(f"{path}: '{name}' has revision {revision!r}; it must be a 40-hex commit or null")
    return models


def entry(name, path=None):
    """The entry of `name`, or None when it has no checkpoint."""
    return read(path).get(name)


def selected_on(item, metric):
    """The metric a manifest entry `item` was selected on and reports first: its `selected_on`, or, in
    entries that predate the field, `metric` (its recipe's). An entry published before its recipe changed
    metric records the old one there, as it does no value of the new one.

    Example:
        >>> selected_on(entry("idf-gray"), "bpd_bfloat16")
        'bpd'
    """
    return item.get("selected_on", metric)


def sha256(path):
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_files(folder):
    """`{file name: {"sha256", "size"}}` for every file in `folder`."""
    return {
        p.name: {"sha256": sha256(p), "size": p.stat().st_size}
        for p in sorted(Path(folder).iterdir())
        if p.is_file()
    }


def write_entry(name, item, path=None):
    """Add or replace the entry of `name`, atomically (a reader never sees half a file)."""
    path = Path(path or paths.MANIFEST_PATH)
    models = read(path)
    models[name] = item
    text = json.dumps({"format": FORMAT, "models": dict(sorted(models.items()))}, indent=2) + "\n"
    paths.write_atomically(path, text)
