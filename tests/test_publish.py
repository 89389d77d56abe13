"""scripts/publish.py: checks before it uploads, and pins the commit the Hub returns."""

import importlib.util
import types

import pytest

from zoo import manifest, paths

spec = importlib.util.spec_from_file_location("publish", paths.REPO_ROOT / "scripts" / "publish.py")
publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish)


def test_dry_run_lists_every_checkpoint(capsys):
    assert publish.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    for name, item in manifest.read().items():
        assert f"{name}: {paths.LOCAL_HUB / item['repo_id']} -> {item['repo_id']}" in out
        assert all(rec["sha256"] in out for rec in item["files"].values())
    assert "nothing uploaded" in out


def test_tampered_folder_is_not_uploaded(published):
    published.copy_to_local_hub()
    (paths.LOCAL_HUB / published.repo_id / "README.md").write_text("edited\n")
    with pytest.raises(SystemExit, match="differs from the manifest"):
        publish.main(["--dry-run"])


def test_upload_pins_the_returned_commit(published):
    published.copy_to_local_hub()
    calls = []

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id))

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls.append(("upload_folder", repo_id, sorted(p.name for p in paths.LOCAL_HUB.joinpath(repo_id).iterdir())))
            return types.SimpleNamespace(oid="b" * 40)

    (job,) = publish.plan([published.name])
    assert publish.publish(*job, api=FakeApi()) == "b" * 40
    assert calls == [("create_repo", published.repo_id),
                     ("upload_folder", published.repo_id, sorted(published.files))]
    assert manifest.entry(published.name)["revision"] == "b" * 40
