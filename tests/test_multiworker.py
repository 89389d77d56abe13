"""Two worker processes on loopback train under MultiWorkerMirroredStrategy and end identical."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
from tiny import TINY, tiny_model

WORKER = Path(__file__).parent / "multiworker_worker.py"


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_end_with_identical_weights(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs, outs = [], []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        out = tmp_path / f"worker{index}.npz"
        outs.append(out)
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), str(tmp_path / "run"), str(out)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=240)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    first, second = (np.load(o) for o in outs)
    assert len(first.files) == len(second.files) > 0
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key])
    keras.utils.set_random_seed(TINY.recipe.seed)  # the workers' starting point: training moved away from it
    initial = tiny_model().get_weights()
    assert any(not np.allclose(w, first[k]) for w, k in zip(initial, first.files))
    assert (tmp_path / "run" / "last.weights.h5").exists()  # the chief (worker 0) kept its checkpoint
    assert not (tmp_path / "run" / "worker-1" / "last.weights.h5").exists()
