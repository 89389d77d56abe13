"""Builds the package; a wheel also ships the manifest and the checkpoints (`zoo/_shipped/`), so an
installed zoo finds and verifies them in any working directory without the clone."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCheckpoints(build_py):
    def run(self):
        super().run()
        shipped = Path(self.build_lib) / "zoo" / "_shipped"
        if shipped.exists():
            shutil.rmtree(shipped)
        shipped.mkdir(parents=True)
        shutil.copy2(ROOT / "weights_manifest.json", shipped / "weights_manifest.json")
        shutil.copytree(ROOT / "hub", shipped / "hub")


setup(cmdclass={"build_py": BuildWithCheckpoints})
