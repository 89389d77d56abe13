"""The package installs like one: a wheel built from this tree, installed in a fresh virtual environment
and used from another directory, lists the catalogue, finds and verifies every checkpoint, and would
publish a trained model into the working directory, never into the package."""

import os
import subprocess
import sys
import textwrap

import pytest

from zoo import manifest
from zoo.paths import REPO_ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    run = lambda *cmd, **kw: subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)  # noqa: E731
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO_ROOT),
        "-w", str(root / "dist"))
    (wheel,) = (root / "dist").glob("zoo-*.whl")
    # the test environment's packages (TensorFlow, Keras...) are reused; zoo itself comes from the wheel
    run(sys.executable, "-m", "venv", "--system-site-packages", str(root / "venv"))
    python = root / "venv" / "bin" / "python"
    run(str(python), "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", str(wheel))
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZOO_HOME")}
    env["HF_HUB_OFFLINE"] = "1"
    return python, elsewhere, env


def test_the_installed_zoo_lists_the_catalogue(installed):
    python, cwd, env = installed
    done = subprocess.run([str(python.parent / "zoo"), "list", "--pretrained"], cwd=cwd, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(line.split()[0] for line in done.stdout.splitlines()) == sorted(manifest.read())


def test_the_installed_zoo_loads_and_verifies_every_checkpoint_and_publishes_into_the_cwd(installed):
    python, cwd, env = installed
    code = textwrap.dedent("""
        import json, zoo
        from zoo import hub, manifest, paths
        names = sorted(manifest.read())
        sources = {name: hub.fetch(name).source for name in names}
        models = {name: zoo.load(name).name for name in names}
        print(json.dumps({"file": zoo.__file__, "sources": sources, "publish": [str(p) for p in paths.publish_home()]}))
    """)
    done = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(python.parent.parent) in report["file"]  # the wheel's copy, not the clone
    assert set(report["sources"]) == set(manifest.read())
    assert all("_shipped" in source for source in report["sources"].values())
    assert report["publish"] == [str(cwd / "weights_manifest.json"), str(cwd / "hub")]
