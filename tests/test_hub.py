"""Checkpoint resolution against a real huggingface_hub client and a loopback Hub."""

import time

import numpy as np
import pytest
from fake_hub import FakeHub

import zoo
from zoo import hub, paths
from zoo.errors import ChecksumError, NotPublishedError, WeightsNotFoundError


@pytest.fixture
def server(published, monkeypatch):
    servers = []

    def start(mode="ok", revision=published.revision):
        s = FakeHub(published.served, revision, mode)
        servers.append(s)
        monkeypatch.setenv("HF_ENDPOINT", s.url)
        return s

    yield start
    for s in servers:
        s.stop()


def _predict(name):
    return zoo.load(name).predict(np.zeros((1, 28, 28, 1), "uint8"), verbose=0)


def test_download_then_cache_with_server_stopped(published, server):
    s = server()
    first = hub.fetch(published.name)
    assert first.source == "Hub download"
    assert any(method == "GET" for method, _ in s.requests)
    s.stop()
    again = hub.fetch(published.name)
    assert again.source == "Hugging Face cache"
    for f in published.files:
        assert again.files[f].read_bytes() == (published.served / published.repo_id / f).read_bytes()
    model = zoo.load(published.name)
    np.testing.assert_array_equal(model.predict(published.images, verbose=0), published.expected)


def test_corrupted_download_is_rejected_and_evicted(published, server):
    server(mode="corrupt")
    with pytest.raises(ChecksumError) as err:
        zoo.load(published.name)
    message = str(err.value)
    assert "expected" in message and "got" in message and "removed from the cache" in message
    assert any(published.files[f]["sha256"] in message for f in published.files)
    server()  # a good server: the bad bytes must not be found in the cache again
    assert hub.fetch(published.name).source == "Hub download"


def test_wrong_revision_falls_through_and_explains(published, server):
    server(revision="0" * 40)
    with pytest.raises(WeightsNotFoundError) as err:
        hub.fetch(published.name)
    message = str(err.value)
    assert "RevisionNotFound" in message
    assert f"zoo download {published.name} --to DIR" in message
    assert f"--revision {published.revision}" in message
    published.copy_to_local_hub()
    assert hub.fetch(published.name).source.startswith("in-repo copy")


@pytest.mark.parametrize("mode", ["hang", "refused"])
def test_unreachable_hub_falls_through_within_two_seconds(published, server, monkeypatch, mode):
    if mode == "hang":
        server(mode="hang")
    else:
        s = server()
        s.stop()  # nothing listens on its port any more
    published.copy_to_local_hub()
    start = time.monotonic()
    ckpt = hub.fetch(published.name)
    assert time.monotonic() - start < 2.0
    assert ckpt.source.startswith("in-repo copy")


def test_offline_never_contacts_the_hub(published, server, monkeypatch):
    s = server()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    published.copy_to_local_hub()
    assert hub.fetch(published.name).source.startswith("in-repo copy")
    assert s.requests == []


def test_weights_dir_comes_first(published, server, monkeypatch):
    s = server()
    published.copy_to_local_hub()
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(published.served))
    assert hub.fetch(published.name).source == f"weights dir {published.served}"
    assert s.requests == []
    explicit = hub.fetch(published.name, weights_dir=paths.LOCAL_HUB)
    assert explicit.source == f"weights dir {paths.LOCAL_HUB}"


def test_tampered_in_repo_file_is_rejected(published, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    published.copy_to_local_hub()
    weights = paths.LOCAL_HUB / published.repo_id / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"sha256 mismatch for model\.weights\.h5 .* expected [0-9a-f]{64}, got [0-9a-f]{64}"):
        zoo.load(published.name)
    assert weights.exists()  # a user's file is reported, never deleted


def test_copy_to_makes_a_weights_dir(published, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    published.copy_to_local_hub()
    target = hub.copy_to(hub.fetch(published.name), tmp_path / "mirror")
    assert target == tmp_path / "mirror" / published.repo_id
    assert hub.fetch(published.name, weights_dir=tmp_path / "mirror").source.startswith("weights dir")


def test_nothing_found_says_what_was_tried(published, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as err:
        hub.fetch(published.name)
    message = str(err.value)
    for source in ("Hugging Face cache", "Hub download: skipped, HF_HUB_OFFLINE is set", "in-repo copy"):
        assert source in message


def test_unpublished_model(isolated):
    with pytest.raises(NotPublishedError, match="pretrained=False"):
        zoo.load("cnn-small-mnist")
    assert zoo.load("cnn-small-mnist", pretrained=False).count_params() > 0
