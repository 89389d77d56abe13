"""Upload checkpoints from hub/ to the Hugging Face Hub and pin the resulting commits in the manifest.

Each `hub/<org>/<model>/` folder is uploaded with `HfApi.upload_folder` to the
model repo `<org>/<model>`; the commit it creates becomes the entry's
`revision`. Files are checked against the manifest's sha256 and size first;
a folder that differs is not uploaded.

Usage:
    python scripts/publish.py --dry-run                 # what would be uploaded, no network
    HF_TOKEN=... python scripts/publish.py cnn-small-mnist
"""

import argparse
import os
import sys

from zoo import manifest, paths


def plan(names):
    """`[(name, repo_id, folder)]` for `names` (all manifest entries if empty), after checking every file."""
    entries = manifest.read()
    unknown = [n for n in names if n not in entries]
    if unknown:
        raise SystemExit(f"publish: not in the manifest: {', '.join(unknown)}")
    jobs = []
    for name in names or sorted(entries):
        item = entries[name]
        folder = paths.LOCAL_HUB / item["repo_id"]
        if not folder.is_dir():
            raise SystemExit(f"publish: {folder} does not exist")
        found = manifest.describe_files(folder)
        if found != item["files"]:
            raise SystemExit(f"publish: {folder} differs from the manifest's files for {name}; retrain or re-evaluate it")
        jobs.append((name, item["repo_id"], folder))
    return jobs


def publish(name, repo_id, folder, api):
    """Upload one folder; returns the Hub commit it made."""
    api.create_repo(repo_id, repo_type="model", exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=f"Publish {name}")
    item = manifest.entry(name)
    item["revision"] = commit.oid
    manifest.write_entry(name, item)
    return commit.oid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="models to publish (default: every manifest entry)")
    parser.add_argument("--dry-run", action="store_true", help="check and list what would be uploaded")
    args = parser.parse_args(argv)
    jobs = plan(args.names)
    for name, repo_id, folder in jobs:
        files = manifest.entry(name)["files"]
        size = sum(f["size"] for f in files.values())
        print(f"{name}: {folder} -> {repo_id} ({len(files)} files, {size / 1e6:.2f} MB)")
        for f, rec in sorted(files.items()):
            print(f"  {f:<20} {rec['size']:>10}  sha256 {rec['sha256']}")
    if args.dry_run:
        print(f"dry run: {len(jobs)} model(s) checked, nothing uploaded")
        return 0
    from huggingface_hub import HfApi

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    for name, repo_id, folder in jobs:
        print(f"{name}: published at revision {publish(name, repo_id, folder, api)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
