"""One worker of the MultiWorkerMirroredStrategy test: trains TINY and saves its final weights.

Usage: TF_CONFIG=... python multiworker_worker.py WORKDIR OUT.npz
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from tiny import TINY  # noqa: E402

from zoo import training  # noqa: E402

workdir, out = sys.argv[1], sys.argv[2]
model, _ = training.train(TINY, strategy="multi-worker", steps_per_epoch=5, epochs=2, workdir=workdir, publish=False)
np.savez(out, *[w.numpy() for w in model.weights])
