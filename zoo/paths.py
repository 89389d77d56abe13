"""Where the repository keeps its manifest and its copy of the Hub."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "weights_manifest.json"
LOCAL_HUB = REPO_ROOT / "hub"
HUB_ORG = "zoo-models"
