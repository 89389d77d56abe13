"""The `zoo` command: help for every command, one-line errors, the real console script."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs_data

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
    assert f"accuracy {accuracy:.4f} (mnist test; chosen on test)" in row


def test_list_shows_an_entry_published_before_its_recipe_changed_metric_with_the_metric_it_was_chosen_on(
        capsys, monkeypatch):
    gray = {**manifest.entry("idf-gray"), "selected_on": "bpd"}
    published = {**manifest.read(), "idf-gray": gray}
    monkeypatch.setattr(manifest, "read", lambda path=None: published)
    assert cli.main(["list", "idf-gray"]) == 0
    assert f"bpd {gray['metrics']['bpd']:.4f} (" in capsys.readouterr().out  # its recipe now selects on bpd_bfloat16
    published["idf-gray"] = {**gray, "selected_on": "bpd_bfloat16", "metrics": {**gray["metrics"], "bpd_bfloat16": 4.25}}
    assert cli.main(["list", "idf-gray"]) == 0
    assert "bpd_bfloat16 4.2500 (" in capsys.readouterr().out


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


@needs_data
def test_export_binary_writes_the_int8_binary_network(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out_file = tmp_path / "binary.tflite"
    assert cli.main(["export", "blrnet-mnist", str(out_file), "--binary", "map", "--samples", "64"]) == 0
    out = capsys.readouterr().out
    assert "0.0000% of elements not within" in out
    assert out_file.stat().st_size < 1.1 * 1024**2  # int8: a quarter of the 3.4 MB float32 file


def test_console_script_is_installed():
    exe = shutil.which("zoo")
    assert exe, "the `zoo` console script is not on PATH; run pip install -e ."
    done = subprocess.run([exe, "info", "no-such-model"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("zoo: error: Unknown model 'no-such-model'")


def test_the_catalogue_file_matches_the_registry():
    import json

    from zoo import registry

    shipped = json.loads((Path(cli.__file__).parent / "catalogue.json").read_text())
    assert shipped == registry.catalogue(), (
        "zoo/catalogue.json is stale; rewrite it with: python -c \"import json, zoo.registry as r; "
        "open('zoo/catalogue.json', 'w').write(json.dumps(r.catalogue(), indent=1) + '\\n')\""
    )


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["list", "idf-*"]])
def test_help_and_list_answer_without_tensorflow(argv):
    code = (
        "import sys\nfrom zoo import cli\n"
        f"try:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(cli.__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_commands_print_no_tensorflow_log_lines_unless_verbose():
    run = lambda *a: subprocess.run([sys.executable, "-m", "zoo.cli", *a, "info", "cnn-small-mnist"],  # noqa: E731
                                    capture_output=True, text=True, cwd=Path(cli.__file__).parent.parent)
    quiet, verbose = run(), run("--verbose")
    assert quiet.returncode == 0 and '"name": "cnn-small-mnist"' in quiet.stdout
    assert quiet.stderr == "", quiet.stderr
    assert "I0000" in verbose.stderr or "absl" in verbose.stderr  # TensorFlow does log; it is only hidden


@pytest.mark.parametrize("attribute", ["registry", "export", "snf", "training"])
def test_submodules_are_reachable_as_attributes_of_a_fresh_zoo(attribute):
    code = f"import zoo\nassert zoo.{attribute}.__name__ == 'zoo.{attribute}'\nassert zoo.registry.spec('snf-fc-mnist')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(cli.__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]


def test_eval_runs_in_a_fresh_process(tmp_path):
    done = subprocess.run([sys.executable, "-m", "zoo.cli", "eval", "no-such-model"], capture_output=True, text=True,
                          cwd=Path(cli.__file__).parent.parent)
    assert done.returncode == 1 and done.stderr.startswith("zoo: error: Unknown model"), done.stderr[-2000:]


def test_no_finish_on_a_recipe_without_a_finish_step_is_a_one_line_error(capsys):
    assert cli.main(["train", "cnn-small-mnist", "--no-finish"]) != 0
    assert "has no finish step to skip" in capsys.readouterr().err


def test_a_crop_the_recipe_cannot_take_is_a_one_line_error(capsys):
    assert cli.main(["train", "cnn-small-mnist", "--crop", "64"]) != 0
    assert "--crop 64: 'cnn-small-mnist' trains on whole examples, not on crops" in capsys.readouterr().err
    assert cli.main(["train", "idf-photos", "--crop", "100"]) != 0
    assert "positive multiple of 32" in capsys.readouterr().err


@needs_data
def test_a_crop_larger_than_a_training_photograph_is_a_one_line_error(capsys):
    assert cli.main(["train", "idf-photos", "--crop", "288"]) != 0
    assert "smallest training photograph's side" in capsys.readouterr().err


def test_train_passes_set_overrides_to_the_builder_and_the_learning_rate_scale(monkeypatch):
    from zoo import registry, training

    seen = {}

    def fake_train(spec, **kwargs):
        seen.update(kwargs, model=spec.builder())

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(registry, "spec", lambda name: registry.ModelSpec(name, lambda **kw: kw, None))
    cli.main(["train", "snf-fc-mnist", "--set", "reconstruction_trains=inverse", "--set", "reconstruction_weight=0.5",
              "--lr-scale", "0.1", "--from-weights", "runs/x/best.weights.h5", "--weight-average", "0.999",
              "--clip-norm", "20", "--no-finish", "--crop", "256"])
    assert seen["finish"] is False and seen["crop"] == 256
    assert seen["model"] == {"reconstruction_trains": "inverse", "reconstruction_weight": 0.5}
    assert seen["lr_scale"] == 0.1 and seen["from_weights"] == "runs/x/best.weights.h5"
    assert seen["weight_average"] == 0.999 and seen["clip_norm"] == 20
    assert cli.main(["train", "snf-fc-mnist", "--set", "oops"]) != 0  # one line, not a traceback
    assert cli.main(["train", "snf-fc-mnist", "--from-weights", "w.h5", "--from-pretrained"]) != 0
    assert cli.main(["train", "snf-fc-mnist", "--from-scratch", "--from-pretrained"]) != 0
    assert cli.main(["train", "snf-fc-mnist", "--weight-average", "1"]) != 0
    cli.main(["train", "snf-fc-mnist", "--from-scratch"])
    assert seen["from_scratch"] is True and seen["finish"] is True
    assert cli.main(["train", "snf-fc-mnist", "--epochs", "0"]) != 0  # nothing to measure
    assert cli.main(["train", "snf-fc-mnist", "--epochs", "-1", "--from-pretrained"]) != 0
    cli.main(["train", "snf-fc-mnist", "--epochs", "0", "--from-pretrained"])
    assert seen["epochs"] == 0 and seen["from_pretrained"] is True
