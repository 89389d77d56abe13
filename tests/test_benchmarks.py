"""The benchmark scripts' tables on tiny inputs: every row is there and the numbers are sane."""

import importlib.util

from zoo.paths import REPO_ROOT


def _script(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hexaconv_layer_table_times_every_layer_and_the_peer():
    rows, peer = _script("hexaconv").layer_table(size=9, batch=2, channels=2, filters=3, repeats=1)
    names = [row[0] for row in rows]
    assert names[:2] == ["HexConv2D", "keras-hexagdly Conv2d (peer)"] and len(rows) == 6
    assert "keras-hexagdly 0.7" in peer
    assert all(ours > 0 and base > 0 and ratio > 0 for _, _, ours, base, ratio in rows)
