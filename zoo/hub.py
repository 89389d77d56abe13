"""Find a model's checkpoint files and prove they are the pinned bytes.

Sources, tried in order until one has every file of the checkpoint:

1. `weights_dir=` or `$ZOO_WEIGHTS_DIR`: a folder laid out like `hub/`
   (`<dir>/<org>/<model>/<file>`);
2. the Hugging Face cache, at the manifest's pinned revision;
3. a download from the Hub (`hf_hub_download`, endpoint from `$HF_ENDPOINT`),
   skipped when `HF_HUB_OFFLINE=1` and given up after `HUB_TIMEOUT` seconds;
4. the repository's own copy under `hub/`.

Whatever the source, every file's sha256 must match the manifest before the
file is used; a mismatch raises `ChecksumError` and nothing is loaded.

Example:
    >>> from zoo import hub
    >>> ckpt = hub.fetch("cnn-small-mnist")
    >>> sorted(ckpt.files)
    ['README.md', 'config.json', 'model.weights.h5']
"""

import dataclasses
import os
import shutil
from pathlib import Path

from zoo import manifest, paths
from zoo.errors import ChecksumError, NotPublishedError, WeightsNotFoundError

HUB_TIMEOUT = 1.5  # seconds a Hub request may take before the loader moves on


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    name: str
    repo_id: str
    files: dict  # file name -> verified local Path
    source: str  # which source supplied them, in words


class _Unavailable(Exception):
    """A source that does not have the files; the message says why."""


def fetch(name, weights_dir=None):
    """The verified local files of `name`'s checkpoint, from the first source that has them all."""
    item = manifest.entry(name)
    if item is None:
        raise NotPublishedError(
            f"'{name}' has no pretrained checkpoint in the manifest yet. Build it untrained with "
            f"zoo.load('{name}', pretrained=False), or train it with `zoo train {name}`."
        )
    tried = []
    for label, source, evict in _sources(item, weights_dir):
        try:
            found = {f: Path(source(f)) for f in item["files"]}
        except _Unavailable as e:
            tried.append(f"{label}: {e}")
            continue
        _verify(found, item["files"], evict)
        return Checkpoint(name, item["repo_id"], found, label)
    raise WeightsNotFoundError(_not_found_message(name, item, tried))


def copy_to(checkpoint, folder):
    """Copy a fetched checkpoint into `folder` laid out like `hub/`, for use as ZOO_WEIGHTS_DIR."""
    target = Path(folder) / checkpoint.repo_id
    target.mkdir(parents=True, exist_ok=True)
    for f, path in checkpoint.files.items():
        shutil.copyfile(path, target / f)
    return target


def _sources(item, weights_dir):
    repo_id, revision = item["repo_id"], item.get("revision")
    folder = weights_dir or os.environ.get("ZOO_WEIGHTS_DIR")
    if folder:
        yield f"weights dir {folder}", lambda f: _in_folder(Path(folder) / repo_id, f), False
    yield "Hugging Face cache", lambda f: _from_cache(repo_id, f, revision), True
    yield "Hub download", _downloader(repo_id, revision), True
    yield f"in-repo copy {paths.LOCAL_HUB}", lambda f: _in_folder(paths.LOCAL_HUB / repo_id, f), False


def _in_folder(folder, filename):
    path = folder / filename
    if not path.is_file():
        raise _Unavailable(f"no {path}")
    return path


def _from_cache(repo_id, filename, revision):
    from huggingface_hub import try_to_load_from_cache

    if revision is None:
        raise _Unavailable("not published on the Hub (revision is null)")
    path = try_to_load_from_cache(repo_id, filename, revision=revision)
    if not isinstance(path, str):
        raise _Unavailable(f"{filename} at {revision[:12]} is not cached")
    return path


def _offline():
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def _downloader(repo_id, revision):
    state = {}

    def download(filename):
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

        if revision is None:
            raise _Unavailable("not published on the Hub (revision is null)")
        if _offline():
            raise _Unavailable("skipped, HF_HUB_OFFLINE is set")
        if "failure" in state:  # one failed file means the Hub is out of reach for the rest
            raise _Unavailable(state["failure"])
        endpoint = os.environ.get("HF_ENDPOINT") or None
        try:
            # A bounded probe first: on a network error hf_hub_download itself
            # retries five times with long timeouts before it gives up.
            get_hf_file_metadata(
                hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint),
                timeout=HUB_TIMEOUT,
                endpoint=endpoint,
            )
            return hf_hub_download(repo_id, filename, revision=revision, endpoint=endpoint, etag_timeout=HUB_TIMEOUT)
        except Exception as e:  # the client raises many types; all mean "not from here"
            first_line = (str(e).strip().splitlines() or [""])[0]
            state["failure"] = f"{type(e).__name__}: {first_line}"
            raise _Unavailable(state["failure"]) from e

    return download


def _verify(found, expected, evict):
    """Check every file's sha256; a cached bad copy is evicted so that it is not found again."""
    bad = []
    for filename, path in found.items():
        actual = manifest.sha256(path)
        if actual == expected[filename]["sha256"]:
            continue
        where = str(path)
        if evict:
            real = path.resolve()
            path.unlink(missing_ok=True)
            real.unlink(missing_ok=True)
            where += " (removed from the cache)"
        bad.append(f"{filename} at {where}: expected {expected[filename]['sha256']}, got {actual}")
    if bad:
        raise ChecksumError(f"sha256 mismatch for {'; '.join(bad)}. Nothing was loaded.")


def _not_found_message(name, item, tried):
    repo_id, revision = item["repo_id"], item.get("revision")
    lines = [f"No source had every file of '{name}' ({repo_id}). Tried:"]
    lines += [f"  - {t}" for t in tried]
    if revision is None:
        lines.append(
            f"This checkpoint is not on the Hub yet; it ships in the repository under hub/{repo_id}/. "
            "Use a clone of the repository, or copy that folder to DIR/"
            f"{repo_id}/ and set ZOO_WEIGHTS_DIR=DIR."
        )
    else:
        lines.append(
            f"Fetch it where the Hub is reachable with `zoo download {name} --to DIR` "
            f"(or `hf download {repo_id} --revision {revision} --local-dir DIR/{repo_id}`), "
            "then set ZOO_WEIGHTS_DIR=DIR."
        )
    return "\n".join(lines)
