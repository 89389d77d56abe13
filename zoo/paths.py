"""Where the zoo finds its manifest and its copy of the Hub, and where training writes.

The home folder holds `weights_manifest.json` and `hub/<org>/<model>/`:

1. `$ZOO_HOME`, when set;
2. the clone of the repository the package runs from (an editable install);
3. the copy shipped inside an installed package (`zoo/_shipped/`, made when
   the wheel is built).

Training publishes into the home folder, except into a shipped copy: an
installed package is never written to; runs from it publish into the current
directory (its `weights_manifest.json` and `hub/`) unless `$ZOO_HOME` says
where.
"""

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent  # the clone, when the package runs from one
SHIPPED = PACKAGE / "_shipped"
HUB_ORG = "zoo-models"


def _home():
    if os.environ.get("ZOO_HOME"):
        return Path(os.environ["ZOO_HOME"]).resolve()
    if (REPO_ROOT / "weights_manifest.json").is_file() and (REPO_ROOT / "setup.cfg").is_file():
        return REPO_ROOT
    return SHIPPED


HOME = _home()
MANIFEST_PATH = HOME / "weights_manifest.json"
LOCAL_HUB = HOME / "hub"


def publish_home():
    """Where training writes a checkpoint and its manifest entry: the home folder, or the current
    directory when the home folder is the installed package's shipped copy."""
    if LOCAL_HUB.parent == SHIPPED:
        return Path.cwd() / "weights_manifest.json", Path.cwd() / "hub"
    return MANIFEST_PATH, LOCAL_HUB
