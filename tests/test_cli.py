"""The `zoo` command: help for every command, one-line errors, the real console script."""

import shutil
import subprocess

import pytest

from zoo import cli, manifest

COMMANDS = ["list", "info", "download", "eval", "export", "compress", "decompress", "train"]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    assert "usage: zoo " + command in capsys.readouterr().out


def test_list_shows_each_model_with_its_metric(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("cnn-small-mnist"))
    accuracy = manifest.entry("cnn-small-mnist")["metrics"]["accuracy"]
    assert f"accuracy {accuracy:.4f} (mnist test)" in row


@pytest.mark.parametrize("argv, message", [
    (["info", "cnn-smal-mnist"], "Unknown model 'cnn-smal-mnist'. Did you mean: cnn-small-mnist?"),
    (["export", "cnn-small-mnist", "out.onnx"], "LiteRT files end in .tflite"),
])
def test_user_mistakes_are_one_line_and_nonzero(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_download_copies_a_weights_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("ZOO_WEIGHTS_DIR", raising=False)
    assert cli.main(["download", "cnn-small-mnist", "--to", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 files verified, from in-repo copy" in out
    item = manifest.entry("cnn-small-mnist")
    assert manifest.describe_files(tmp_path / item["repo_id"]) == item["files"]


def test_export_command_writes_a_checked_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out_file = tmp_path / "cnn.tflite"
    assert cli.main(["export", "cnn-small-mnist", str(out_file), "--samples", "4"]) == 0
    assert out_file.stat().st_size > 0
    assert "checked on 4 samples" in capsys.readouterr().out


def test_console_script_is_installed():
    exe = shutil.which("zoo")
    assert exe, "the `zoo` console script is not on PATH; run pip install -e ."
    done = subprocess.run([exe, "info", "no-such-model"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("zoo: error: Unknown model 'no-such-model'")
