"""`zoo compress` / `zoo decompress` on PNG files and folders."""

import numpy as np
import pytest
from PIL import Image

from zoo import cli
from zoo.errors import ZooError
from zoo.idf import Codec, IntegerDiscreteFlow, files

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def small_codec(monkeypatch):
    codec = Codec(IntegerDiscreteFlow(width=8, flows_per_level=1, mixtures=2), "idf-cifar10")
    monkeypatch.setattr(Codec, "for_model", classmethod(
        lambda cls, name, precision="auto": codec if precision == "auto" else codec._sibling(precision)))
    return codec


def _png(path, mode, size):
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    pixels = RNG.integers(0, 256, (*size, *channels)).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def test_folders_round_trip_bit_for_bit(tmp_path, capsys):
    originals = {
        "a.png": _png(tmp_path / "in" / "a.png", "RGB", (32, 32)),
        "sub/b.png": _png(tmp_path / "in" / "sub" / "b.png", "L", (17, 45)),
        "sub/c.png": _png(tmp_path / "in" / "sub" / "c.png", "RGB", (1, 1)),
    }
    assert cli.main(["compress", str(tmp_path / "in"), "-o", str(tmp_path / "coded")]) == 0
    summary = capsys.readouterr().out
    assert "3 image(s):" in summary and "bits per dimension" in summary and "smaller than the PNGs" in summary
    assert sorted(p.relative_to(tmp_path / "coded").as_posix() for p in (tmp_path / "coded").rglob("*.idf")) == [
        "a.idf", "sub/b.idf", "sub/c.idf"  # a folder's contents are mirrored under -o
    ]
    assert cli.main(["decompress", str(tmp_path / "coded"), "-o", str(tmp_path / "out")]) == 0
    for name, pixels in originals.items():
        restored = np.asarray(Image.open(tmp_path / "out" / name))
        np.testing.assert_array_equal(restored, pixels)


def test_output_is_read_like_cp(tmp_path):
    _png(tmp_path / "a.png", "RGB", (8, 8))
    _png(tmp_path / "b.png", "RGB", (8, 8))
    _png(tmp_path / "d1" / "c.png", "L", (8, 8))
    _png(tmp_path / "d2" / "e.png", "L", (8, 8))
    assert cli.main(["compress", str(tmp_path / "a.png"), "-o", str(tmp_path / "new") + "/"]) == 0
    assert (tmp_path / "new" / "a.idf").is_file()  # a trailing slash means a folder, made if missing
    assert cli.main(["compress", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "two")]) == 0
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["a.idf", "b.idf"]  # several inputs: a folder
    assert cli.main(["compress", str(tmp_path / "d1"), str(tmp_path / "d2"), "-o", str(tmp_path / "dirs")]) == 0
    assert sorted(p.relative_to(tmp_path / "dirs").as_posix() for p in (tmp_path / "dirs").rglob("*.idf")) == [
        "d1/c.idf", "d2/e.idf"
    ]
    assert cli.main(["compress", str(tmp_path / "d1"), "-o", str(tmp_path / "a.png")]) == 1  # a file is no folder


def test_single_file_to_a_named_output(tmp_path):
    pixels = _png(tmp_path / "x.png", "RGB", (40, 33))
    assert cli.main(["compress", str(tmp_path / "x.png"), "-o", str(tmp_path / "x.idf")]) == 0
    assert cli.main(["decompress", str(tmp_path / "x.idf"), "-o", str(tmp_path / "y.png")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "y.png")), pixels)


def test_unsupported_png_is_one_line(tmp_path, capsys):
    _png(tmp_path / "alpha.png", "RGBA", (8, 8))
    assert cli.main(["compress", str(tmp_path / "alpha.png"), "-o", str(tmp_path / "o.idf")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zoo: error:") and "RGBA is not supported" in err and err.count("\n") == 1
    assert not (tmp_path / "o.idf").exists()


def test_a_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    _png(tmp_path / "in" / "1.png", "RGB", (8, 8))
    _png(tmp_path / "in" / "2.png", "RGB", (8, 8))
    real = files.compress
    calls = []

    def flaky(pixels, model, precision):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(pixels, model=model, precision=precision)

    monkeypatch.setattr(files, "compress", flaky)
    with pytest.raises(KeyboardInterrupt):
        files.compress_paths([tmp_path / "in"], tmp_path / "out", jobs=1)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["1.idf"]  # complete; no temporary or half-written second file


def test_several_files_at_a_time_give_the_same_bytes(tmp_path):
    originals = {f"{i}.png": _png(tmp_path / "in" / f"{i}.png", mode, size)
                 for i, (mode, size) in enumerate([("RGB", (32, 32)), ("L", (17, 45)), ("RGB", (9, 40)),
                                                   ("RGB", (32, 32)), ("L", (1, 70))])}
    one = files.compress_paths([tmp_path / "in"], tmp_path / "one", jobs=1)
    three = files.compress_paths([tmp_path / "in"], tmp_path / "three", jobs=3)
    assert one == three
    for name in originals:
        coded = name.replace(".png", ".idf")
        assert (tmp_path / "three" / coded).read_bytes() == (tmp_path / "one" / coded).read_bytes()
    assert files.decompress_paths([tmp_path / "three"], tmp_path / "out", jobs=2) == {"images": 5}
    for name, pixels in originals.items():
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / name)), pixels)


def test_an_error_with_several_at_a_time_stops_the_rest_and_is_raised(tmp_path, monkeypatch):
    for i in range(6):
        _png(tmp_path / "in" / f"{i}.png", "RGBA" if i == 1 else "RGB", (8, 8))
    started = []
    real = files.read_png
    monkeypatch.setattr(files, "read_png", lambda path: started.append(path.name) or real(path))
    with pytest.raises(ZooError, match="RGBA is not supported"):
        files.compress_paths([tmp_path / "in"], tmp_path / "out", jobs=2)
    assert len(started) < 6  # the pairs after the error did not start
    for coded in (tmp_path / "out").iterdir():  # what was written is complete: no temporaries, and each decodes
        assert coded.suffix == ".idf"
        files.decompress_paths([coded], tmp_path / "restored" / coded.with_suffix(".png").name)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_jobs_must_be_a_whole_number_of_at_least_one(tmp_path, jobs):
    _png(tmp_path / "a.png", "RGB", (8, 8))
    with pytest.raises(ZooError, match="jobs must be a whole number"):
        files.compress_paths([tmp_path / "a.png"], tmp_path / "a.idf", jobs=jobs)
    assert not (tmp_path / "a.idf").exists()


def test_cli_jobs(tmp_path, capsys):
    _png(tmp_path / "in" / "a.png", "RGB", (8, 8))
    _png(tmp_path / "in" / "b.png", "L", (8, 8))
    assert cli.main(["compress", str(tmp_path / "in"), "-o", str(tmp_path / "coded"), "--jobs", "1"]) == 0
    assert cli.main(["decompress", str(tmp_path / "coded"), "-o", str(tmp_path / "out"), "--jobs", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    capsys.readouterr()
    assert cli.main(["compress", str(tmp_path / "in"), "-o", str(tmp_path / "x"), "--jobs", "0"]) == 1
    assert "jobs must be a whole number of at least 1, got 0" in capsys.readouterr().err


def test_missing_input(tmp_path, capsys):
    assert cli.main(["compress", str(tmp_path / "nope.png"), "-o", str(tmp_path / "o")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_written_files_get_the_permissions_of_any_new_file(tmp_path):
    """Atomic writes go through a private temporary file; the result must not stay 0600."""
    import os

    from zoo.paths import write_atomically

    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "new" / "a.bin", b"abc")
        write_atomically(tmp_path / "new" / "b.txt", "text")
    finally:
        os.umask(old)
    assert (tmp_path / "new" / "a.bin").read_bytes() == b"abc" and (tmp_path / "new" / "b.txt").read_text() == "text"
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "new").iterdir()} == {oct(0o644)}


def test_a_failed_write_leaves_neither_a_file_nor_a_temporary(tmp_path):
    from zoo.paths import write_atomically

    def fail(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path / "a.bin", fail)
    assert list(tmp_path.iterdir()) == []


def test_the_summary_says_larger_when_the_pngs_were_smaller(tmp_path, capsys):
    """A palette PNG of random pixels from 16 random colours: 4 bits a pixel for PNG, far more for a flow of
    photographs; the summary says how many times larger, not a fraction 'smaller'."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 16, (48, 64)).astype(np.uint8), "P")
    image.putpalette(rng.integers(0, 256, 48).tolist())
    image.save(tmp_path / "palette.png")
    assert cli.main(["compress", str(tmp_path / "palette.png"), "-o", str(tmp_path / "palette.idf")]) == 0
    summary = capsys.readouterr().out
    assert "x larger than the PNGs" in summary and "smaller" not in summary


def test_the_summary_says_which_streams_decode_only_on_cpus_like_this_one(tmp_path, capsys):
    _png(tmp_path / "a.png", "RGB", (32, 32))
    notices = {}
    for precision in ("float32", "portable"):
        target = tmp_path / f"{precision}.idf"
        assert cli.main(["compress", str(tmp_path / "a.png"), "-o", str(target), "--precision", precision]) == 0
        notices[precision] = capsys.readouterr().out
        assert files.compress_paths([tmp_path / "a.png"], target, precision=precision)["precisions"] == [precision]
    assert "The float32 streams decode where the CPU computes as this one does" in notices["float32"]
    assert "portable" not in notices["portable"]
