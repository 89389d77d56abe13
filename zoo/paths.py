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
import tempfile
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


def write_atomically(path, content):
    """Write `content` (bytes, text, or a function that writes to a binary file) to `path`, making its folder.

    A reader never sees half a file: the content goes to a temporary file beside `path`, which then
    replaces it (and is removed if writing fails). The file gets the permissions of any new file
    (0666 less the umask), not the temporary file's private 0600.

    Example:
        >>> write_atomically("coded/a.idf", stream)
        >>> write_atomically("restored/a.png", lambda f: image.save(f, format="PNG"))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode() if isinstance(content, str) else content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
