"""The scripts in benchmarks/ and scripts/ on tiny inputs: every row or panel is there and sane."""

import importlib.util
import json

import pytest
from PIL import Image

from zoo.paths import REPO_ROOT


def _script(name, folder="benchmarks"):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hexaconv_layer_table_times_every_layer_and_the_peer():
    rows, peer = _script("hexaconv").layer_table(size=9, batch=2, channels=2, filters=3, repeats=1)
    names = [row[0] for row in rows]
    assert names[:2] == ["HexConv2D", "keras-hexagdly Conv2d (peer)"] and len(rows) == 6
    assert "keras-hexagdly 0.7" in peer
    assert all(ours > 0 and base > 0 and ratio > 0 for _, _, ours, base, ratio in rows)


def test_filter_plot_draws_every_orientation_of_each_filter(tmp_path):
    out = tmp_path / "filters.png"
    _script("plot_hexaconv", "scripts").main(["hexaconv-p6m-aid", "--untrained", "--filters", "2", "-o", str(out)])
    picture = Image.open(out)
    assert picture.mode == "RGB" and picture.width > 12 * 28 * 2  # 12 hexagon tiles a row, each > 2 cells wide


def test_robustness_table_has_the_square_column_and_p6_holds_under_rotations():
    import numpy as np

    images = np.random.default_rng(0).integers(0, 256, (6, 64, 64, 3)).astype("uint8")
    labels = np.arange(6)
    rows = dict(_script("hexaconv").robustness_table(["hexaconv-z2-aid", "hexaconv-p6-aid"], images, labels, batch=3))
    assert all(len(accuracies) == 8 for accuracies in rows.values())  # square image, 6 rotations, mirror
    assert len(set(rows["hexaconv-p6-aid"][1:7])) == 1  # invariant to every lattice rotation


def test_snf_benchmark_times_both_layers_and_fits_a_slope():
    snf = _script("snf")
    from zoo.snf import ExactDense, SelfNormDense

    assert snf.step_time(SelfNormDense, (16,), repeats=2) > 0 and snf.step_time(ExactDense, (16,), repeats=2) > 0
    sizes = [256, 512, 1024]
    assert abs(snf.slope(sizes, [s**3 * 1e-9 for s in sizes]) - 3.0) < 1e-9


def test_auroc_counts_ties_as_half():
    import numpy as np

    auroc = _script("snf").auroc
    assert auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert auroc(np.array([1.0, 1.0, 2.0]), np.array([1.0, 3.0])) == 4 / 6


def test_snf_sample_grid_has_a_row_per_model_and_inverse(tmp_path):
    out = tmp_path / "samples.png"
    _script("plot_snf_samples", "scripts").main(["--untrained", "-n", "3", "-o", str(out)])
    picture = Image.open(out)
    assert picture.height == 6 * (56 + 4)  # SNF models: R and exact rows; exact twins: one row each


def test_blrnet_calibration_and_coverage_measures():
    import numpy as np

    bench = _script("blrnet")
    labels = np.array([0, 1, 1, 0])
    confident_right = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert bench.ece(confident_right, labels) == 0.0
    overconfident = np.tile([0.9, 0.1], (4, 1))  # says 90%, right half the time
    assert abs(bench.ece(overconfident, labels) - 0.4) < 1e-12
    wrong_first = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    score = np.array([3.0, 0.0, 0.0, 0.0])  # the wrong one is the least certain
    assert bench.coverage_curve(wrong_first, labels, score, fractions=(0.0, 0.25)) == [0.75, 1.0]


def test_blrnet_litert_rows_measure_float_and_int8_files():
    import keras
    import numpy as np

    from zoo import blrnet

    keras.utils.set_random_seed(0)
    pbnet = blrnet.binary_vgg("pbnet", (12, 12, 1), 4, blocks=((4,),), hidden=(8,))
    images = np.random.default_rng(0).integers(0, 256, (40, 12, 12, 1)).astype("uint8")
    binary = blrnet.to_binary(pbnet, "map", data=images)
    reference = binary.predict(images, verbose=0).argmax(-1)
    rows = _script("blrnet").litert_rows([("float", binary, False), ("int8", binary, True)], images, reference, reference)
    (_, float_kib, _, _, float_agree), (_, int8_kib, _, _, _) = rows
    assert float_agree == "100.00" and float(int8_kib) < float(float_kib)


def test_seed_sweep_publishes_the_best_validation_run_and_reports_the_spread(isolated, tmp_path, monkeypatch):
    from tiny import TINY

    from zoo import manifest, registry

    seeds = _script("seeds", "scripts")
    import results_file

    monkeypatch.setattr(results_file, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(registry, "spec", lambda name: TINY)
    monkeypatch.chdir(tmp_path)
    seeds.main([TINY.name, "--seeds", "0", "1", "2", "--results", "sweep"])
    runs = [seeds.run_seed(TINY.name, s, 1) for s in (0, 1, 2)]  # finished: read back, not trained again
    best = max(runs, key=lambda r: r["validation"]["accuracy"])
    assert manifest.entry(TINY.name)["validation"]["metrics"] == best["validation"]  # chosen on validation
    assert manifest.entry(TINY.name)["training"]["seed"] == best["seed"]
    text = (tmp_path / "results" / "sweep.md").read_text()
    tests = [r["test"]["accuracy"] for r in runs]
    import numpy as np

    assert f"{np.mean(tests):.4f} +- {np.std(tests, ddof=1):.4f}" in text and "NOT COMPLETE" not in text
    assert "| baseline |" in text  # the first model is the baseline of the differences


def test_seed_table_gives_each_difference_to_the_baseline_with_its_standard_error():
    seeds = _script("seeds", "scripts")
    runs = lambda tests: [{"seed": i, "validation": {"accuracy": t}, "test": {"accuracy": t}, "published": False}  # noqa: E731
                          for i, t in enumerate(tests)]
    text = seeds.table({"base": runs([0.70, 0.72, 0.74]), "other": runs([0.80, 0.81, 0.85])}, "accuracy")
    se = (0.02**2 / 3 + 0.026457513**2 / 3) ** 0.5  # sample sds 0.02 and 0.0265
    assert f"+{0.82 - 0.72:.4f} ({se:.4f})" in text


def test_seed_table_takes_each_model_s_own_metric():
    seeds = _script("seeds", "scripts")
    runs = lambda key, tests: [{"seed": i, "validation": {key: t}, "test": {key: t}, "published": False}  # noqa: E731
                               for i, t in enumerate(tests)]
    text = seeds.table({"bnn": runs("accuracy", [0.70, 0.72]), "pbnet": runs("map_accuracy", [0.74, 0.76])},
                       {"bnn": "accuracy", "pbnet": "map_accuracy"})
    assert "`pbnet` (map_accuracy)" in text and "+0.0400" in text


def test_a_seed_the_manifest_already_measured_is_read_not_trained(isolated, tmp_path, monkeypatch):
    from tiny import TINY

    from zoo import registry, training

    seeds = _script("seeds", "scripts")
    import results_file

    monkeypatch.setattr(results_file, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(registry, "spec", lambda name: TINY)
    monkeypatch.chdir(tmp_path)
    validation, test = {TINY.recipe.metric: 0.5}, {TINY.recipe.metric: 0.25}
    training.publish_checkpoint(TINY.builder(), TINY, test, f"zoo train {TINY.name}", validation=validation)
    epochs = TINY.recipe.epochs
    run = seeds.published_run(TINY.name, TINY.recipe.seed, epochs)
    assert (run["validation"], run["test"], run["published"]) == (validation, test, True)
    assert seeds.published_run(TINY.name, TINY.recipe.seed + 1, epochs) is None  # another seed is trained
    assert seeds.published_run(TINY.name, TINY.recipe.seed, epochs + 1) is None  # and so are other epochs
    monkeypatch.setattr(seeds, "run_seed", lambda *a: pytest.fail("the manifest's run is trained again"))
    seeds.main([TINY.name, "--seeds", str(TINY.recipe.seed), "--results", "sweep", "--from-manifest"])
    assert "read from the manifest" in (tmp_path / "results" / "sweep.md").read_text()


def test_seed_sweep_replaces_a_test_selected_checkpoint_with_its_best_validation_run(isolated, tmp_path, monkeypatch):
    """A test-selected checkpoint trained on the validation examples; the sweep's best run replaces it, even
    though the old checkpoint would measure better on those examples."""
    from tiny import TINY

    from zoo import manifest, registry, training

    seeds = _script("seeds", "scripts")
    import results_file

    monkeypatch.setattr(results_file, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(registry, "spec", lambda name: TINY)
    monkeypatch.chdir(tmp_path)
    perfect = {TINY.recipe.metric: 1.0}
    training.publish_checkpoint(TINY.builder(), TINY, perfect, "zoo train tiny", validation=perfect)
    old = manifest.entry(TINY.name)
    del old["validation"]
    manifest.write_entry(TINY.name, {**old, "selection": "test"})
    monkeypatch.setattr(training, "_published_validation", lambda spec, entry, data_dir: perfect)  # it saw them
    seeds.main([TINY.name, "--seeds", "0", "1", "--results", "sweep"])
    runs = [seeds.run_seed(TINY.name, s, 1) for s in (0, 1)]
    best = max(runs, key=lambda r: r["validation"][TINY.recipe.metric])
    entry = manifest.entry(TINY.name)
    assert entry["selection"] == "validation" and entry["validation"]["metrics"] == best["validation"]
    assert entry["training"]["seed"] == best["seed"] and entry["metrics"] == best["test"]
    assert entry["training"] == json.loads((tmp_path / "runs" / f"{TINY.name}-seed{best['seed']}" / "run.json").read_text())
    assert [r["published"] for r in runs] == [r is best for r in runs]  # recorded, so a rerun does not publish again
    assert not seeds.replace_test_selected(TINY.name, runs)


def test_kodak_tables_code_every_photo_in_colour_and_gray(tmp_path, monkeypatch):
    import numpy as np

    compression = _script("compression")
    import results_file

    rng = np.random.default_rng(0)
    (tmp_path / "photos" / "kodak24").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (16, 24, 3)).astype("uint8")).save(tmp_path / "photos" / "kodak24" / f"k{i}.png")
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path / "photos"))
    monkeypatch.setattr(results_file, "RESULTS", tmp_path / "results")
    from zoo import hub

    weights = str(hub.fetch("idf-cifar10").files["model.weights.h5"])
    compression.kodak(["idf-cifar10"], [("idf-cifar10", weights)], results="kodak")
    colour = (tmp_path / "results" / "kodak.md").read_text()
    gray = (tmp_path / "results" / "kodak_gray.md").read_text()
    candidate = f"zoo, `idf-cifar10` with `{weights}`"
    for name in ("PNG (level 9)", "JPEG XL lossless (effort 9)", "zoo, `idf-cifar10`", candidate):
        assert f"| {name} |" in colour and f"| {name} |" in gray
    assert "WebP" in colour and "WebP" not in gray
    rows = {line.split(" | ")[0]: line.split(" | ")[1] for line in colour.splitlines() if line.startswith("| zoo")}
    assert rows["| zoo, `idf-cifar10`"] == rows[f"| {candidate}"]  # the same weights code to the same size
    assert "| zoo, `idf-cifar10`, portable |" in colour
    first_calls = [line.rstrip(" |").split(" | ")[-1] for line in colour.splitlines() if line.startswith("| zoo")]
    assert all(len(call.split(" / ")) == 2 for call in first_calls)  # the untimed first call, measured apart


def test_codec_profile_splits_the_time_of_every_model(tmp_path, monkeypatch):
    import numpy as np

    codec_profile = _script("codec_profile")
    import results_file

    (tmp_path / "photos" / "kodak24").mkdir(parents=True)
    smooth = (np.arange(32)[:, None, None] + 2 * np.arange(64)[None, :, None] + [0, 40, 80]).astype("uint8")  # codable
    Image.fromarray(smooth).save(tmp_path / "photos" / "kodak24" / "k.png")
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path / "photos"))
    monkeypatch.setattr(results_file, "RESULTS", tmp_path / "results")
    codec_profile.main(["idf-cifar10"])
    rows = [line.split(" | ") for line in (tmp_path / "results" / "codec_profile.md").read_text().splitlines()
            if line.startswith("| `idf-cifar10`") and line.split(" | ")[1] in ("encode", "decode")]
    assert [r[1] for r in rows] == ["encode", "decode"]
    for r in rows:
        shares = [float(x.rstrip("%")) for x in r[4:7]]
        assert abs(sum(shares) - 100) <= 2 and shares[0] > 0 and shares[1] > 0
    graphs = [line.split(" | ") for line in (tmp_path / "results" / "codec_profile.md").read_text().splitlines()
              if line.startswith("| `idf-cifar10` | ") and line.split(" | ")[1] not in ("encode", "decode")]
    assert "flow (forward)" in [g[1] for g in graphs] and 1 <= len(graphs) <= 5


def test_lr_probe_measures_the_recipe_metric_on_validation_for_each_rate(tmp_path, monkeypatch):
    from tiny import TINY

    from zoo import registry

    probe = _script("lr_probe")
    import results_file

    monkeypatch.setattr(results_file, "RESULTS", tmp_path)
    monkeypatch.setattr(registry, "spec", lambda name: TINY)
    probe.main([TINY.name, "1e-3", "1e-1", "--steps", "5"])
    table = (tmp_path / f"lr_{TINY.name}.md").read_text()
    assert "| 0.001 |" in table and "| 0.1 |" in table and "validation accuracy" in table


def test_run_record_keeps_the_first_last_best_and_every_nth_epoch():
    import pytest

    record = _script("run_record", "scripts")
    state = {"monitor": "val_loss", "best_epoch": 5,
             "epochs": [{"epoch": e, "seconds": 10.0, "val_loss": 10.0 - e if e <= 5 else e} for e in range(1, 12)]}
    table = record.rows(state, ["val_loss"], every=4)
    assert [row[0] for row in table] == ["1", "4", "5 (best)", "8", "11"]
    assert table[2][1:] == ["5", "10"]
    with pytest.raises(SystemExit, match="no column val_nll"):
        record.rows(state, ["val_nll"], every=4)
    for e in state["epochs"][4:]:  # logged from epoch 5 on: a run resumed after its recipe's metric changed
        e["val_new"] = 1.0
    assert [row[1:3] for row in record.rows(state, ["val_loss", "val_new"], every=4)][:3] == [
        ["9", ""], ["6", ""], ["5", "1"]]


def test_variant_probe_reads_names_and_json_overrides():
    import pytest

    probe = _script("variant_probe")
    assert probe.parse_variant("snf-fc-mnist") == ("snf-fc-mnist", {})
    assert probe.parse_variant("snf-fc-mnist:reconstruction_trains=inverse,reconstruction_weight=10") == (
        "snf-fc-mnist", {"reconstruction_trains": "inverse", "reconstruction_weight": 10})
    assert probe.parse_variant("idf-photos:flows_per_level=[2,4,6],width=96,recipe.crop=64") == (
        "idf-photos", {"flows_per_level": [2, 4, 6], "width": 96, "recipe.crop": 64})
    with pytest.raises(ValueError, match="expected key=value"):
        probe.parse_variant("snf-fc-mnist:inverse")


def test_idf_levels_add_up_to_the_models_bits_per_dimension():
    import numpy as np
    import pytest

    import zoo

    model = zoo.load("idf-photos", pretrained=False)
    side = 2**model.levels
    image = np.random.default_rng(0).integers(0, 256, (1, 2 * side, 3 * side, 3)).astype("uint8")
    levels = _script("idf_levels").level_bits(model, image)
    assert sum(d for d, _ in levels) == image.size and len(levels) == model.levels
    assert sum(b for _, b in levels) / image.size == pytest.approx(float(model(image)[0]), rel=1e-5)
    with pytest.raises(ValueError, match=f"multiples of {side}"):
        _script("idf_levels").level_bits(model, image[:, : side + side // 2])


def test_variant_probe_skips_a_variant_finished_in_an_earlier_call(tmp_path, monkeypatch):
    import json

    probe = _script("variant_probe")
    calls = []

    def fake_train(spec, epochs, workdir, data_dir, publish, lr_scale):
        calls.append(spec.name)
        (workdir / "best.json").write_text(json.dumps({"epochs": [{"epoch": 1, "seconds": 1.0, "val_loss": 2.0}]}))

    monkeypatch.setattr(probe.training, "train", fake_train)
    tmp_path.joinpath("0").mkdir()
    first = probe.run("snf-fc-mnist", 1, tmp_path / "0")
    again = probe.run("snf-fc-mnist", 1, tmp_path / "0")
    assert calls == ["snf-fc-mnist"] and first == again
    probe.run("snf-fc-mnist", 2, tmp_path / "0")  # more epochs: not the same run
    assert calls == ["snf-fc-mnist", "snf-fc-mnist"]
    probe.run("snf-fc-mnist", 2, tmp_path / "0", lr_scale=0.1)  # another rate: not the same run either
    assert len(calls) == 3
    probe.run("snf-fc-mnist", 2, tmp_path / "0", lr_scale=0.1, initialize=False)  # nor from random weights
    assert len(calls) == 4
    folders = {probe.variant_folder(v) for v in ["snf-fc-mnist", "snf-fc-mnist:depth=2", "snf-fc-mnist"]}
    assert len(folders) == 2  # one per variant, whichever call names it


def test_variant_probe_reports_the_epochs_a_workdir_holds_without_training(tmp_path, monkeypatch):
    import json

    probe = _script("variant_probe")
    monkeypatch.setattr(probe.training, "train", lambda *a, **kw: pytest.fail("--report trains nothing"))
    written = {}
    monkeypatch.setattr(probe, "write_results", lambda name, title, table: written.update(name=name, table=table))
    folder = tmp_path / probe.variant_folder("snf-fc-mnist")
    folder.mkdir()
    epochs = [{"epoch": 1, "seconds": 2.0, "val_nll_nats": 3.5}, {"epoch": 2, "seconds": 4.0, "val_nll_nats": 3.25}]
    (folder / "best.json").write_text(json.dumps({"epochs": epochs}))
    probe.main(["lbl", "snf-fc-mnist", "snf-fc-mnist:depth=2", "--epochs", "3", "--report-epochs", "1", "2",
                "--workdir", str(tmp_path), "--report"])
    rows = written["table"].splitlines()[2:]
    assert rows[0] == "| `snf-fc-mnist` | 3.5 | 3.25 | - | 3 |" and rows[1].endswith("| - | - | - | - |")
    with pytest.raises(SystemExit):
        probe.main(["lbl", "snf-fc-mnist", "--epochs", "3", "--report"])  # no workdir to read


def test_idf_validation_measures_crops_and_whole_images_of_one_model():
    import numpy as np

    bench = _script("idf_validation")
    image = np.arange(300 * 260 * 3, dtype=np.uint32).reshape(300, 260, 3).astype("uint8")
    cut = bench.crops(image)
    assert len(cut) == 2 * 2 and all(c.shape == (128, 128, 3) for c in cut)
    np.testing.assert_array_equal(cut[1], image[:128, 128:256])

    def per_image_mean(x):  # a stand-in model: each image's mean pixel
        return np.asarray(x, "float64").mean(axis=(1, 2, 3))

    whole, cropped = bench.measure(per_image_mean, [image, image[:128, :128]])
    assert whole == pytest.approx(np.mean([image.mean(), image[:128, :128].mean()]))
    assert cropped == pytest.approx(np.mean([c.mean() for c in [*cut, image[:128, :128]]]))
    with pytest.raises(ValueError, match="overrides need the weights"):
        bench.load_model("idf-photos:levels=5")


def test_remeasure_validation_rewrites_only_the_validation_section(isolated, monkeypatch):
    from tiny import TINY

    import zoo
    from zoo import manifest, registry, training

    monkeypatch.setattr(registry, "spec", lambda name: TINY)
    stale, model = {TINY.recipe.metric: 0.123}, TINY.builder()
    training.publish_checkpoint(model, TINY, {"accuracy": 0.5}, "zoo train tiny", validation=stale)
    before = manifest.entry(TINY.name)
    monkeypatch.setattr(zoo, "load", lambda name: model)  # the tiny model is not in the registry
    section = _script("remeasure_validation", "scripts").remeasure(TINY.name, "a new protocol")
    after = manifest.entry(TINY.name)
    assert section["metrics"] == training.evaluate(model, TINY, split=TINY.recipe.validation_split)
    assert section["remeasured"]["metrics_before"] == stale and section["remeasured"]["reason"] == "a new protocol"
    assert after["validation"] == section
    assert {k: v for k, v in after.items() if k != "validation"} == {k: v for k, v in before.items() if k != "validation"}


def test_remeasure_validation_with_test_rewrites_the_test_metrics_too(isolated, monkeypatch):
    from tiny import TINY

    import zoo
    from zoo import manifest, registry, training

    monkeypatch.setattr(registry, "spec", lambda name: TINY)
    model = TINY.builder()
    stale_test = {"accuracy": 0.5}
    training.publish_checkpoint(model, TINY, stale_test, "zoo train tiny", validation={TINY.recipe.metric: 0.123})
    before = manifest.entry(TINY.name)
    monkeypatch.setattr(zoo, "load", lambda name: model)
    _script("remeasure_validation", "scripts").remeasure(TINY.name, "a new arithmetic", test=True)
    after = manifest.entry(TINY.name)
    assert after["metrics"] == training.evaluate(model, TINY)
    assert after["metrics_remeasured"]["metrics_before"] == stale_test
    assert after["metrics_remeasured"]["reason"] == "a new arithmetic"
    assert after["history"][-1]["metrics"] == after["metrics"]  # the publication this checkpoint is
    assert after["history"][-1]["metrics_remeasured"] == after["metrics_remeasured"]
    assert after["history"][:-1] == before["history"][:-1]
    kept = {k: v for k, v in before.items() if k not in ("validation", "metrics", "history")}
    assert {k: v for k, v in after.items() if k not in ("validation", "metrics", "metrics_remeasured", "history")} == kept


def test_variant_probe_overrides_recipe_fields_and_builder_arguments_apart():
    probe = _script("variant_probe")
    spec = probe.variant_spec("idf-photos:levels=5,recipe.crop=128,recipe.batch_size=4", initialize=False)
    assert (spec.recipe.crop, spec.recipe.batch_size, spec.recipe.initialize) == (128, 4, None)
    assert spec.builder().levels == 5 and spec.recipe.epochs == probe.registry.spec("idf-photos").recipe.epochs
    with pytest.raises(TypeError, match="crops"):
        probe.variant_spec("idf-photos:recipe.crops=128")


def test_prior_context_counts_the_priors_bits_and_starts_from_them():
    import math

    import numpy as np

    import zoo

    context = _script("idf_prior_context")
    flow = zoo.load("idf-photos")
    images = np.random.default_rng(0).integers(90, 110, (2, 64, 64, 3)).astype("uint8")
    [(kept, y)] = context.latents(flow, "split", [images])
    [(_, z)] = context.latents(flow, "last", [images])
    from zoo.idf.distributions import discretized_logistic_logp, mixture_discretized_logistic_logp

    last_bits = -float(np.sum(mixture_discretized_logistic_logp(z, *flow.prior.params()))) / math.log(2.0)
    prior = flow.split_priors[0]  # its plain logistic: the screen's "none" (the published flow adds its context)
    split_bits = -float(np.sum(discretized_logistic_logp(y, *prior.params(kept)))) / math.log(2.0)
    np.testing.assert_allclose(float(context.Corrected(flow, "split", "none").bits(kept, y)), split_bits, rtol=1e-5)
    np.testing.assert_allclose(float(context.Corrected(flow, "last", "none").bits(None, z)), last_bits, rtol=1e-5)
    for kind in ("checkerboard", "channel halves"):  # a zero-initialised correction: the published prior's bits
        np.testing.assert_allclose(float(context.Corrected(flow, "split", kind).bits(kept, y)), split_bits, rtol=1e-5)


def test_last_context_screen_measures_what_the_last_prior_with_context_codes():
    import math

    import numpy as np
    from keras import ops

    from zoo.idf.layers import LAST_STAGES, MixturePrior, coding_stages

    screen = _script("idf_last_context")
    for pattern, count in screen.PATTERNS.items():  # every stage holds an equal share of an even crop
        stages = screen.stages(pattern, 4, 6, 8)
        assert np.array_equal(np.bincount(stages.astype(int).ravel()), np.full(count, 4 * 6 * 8 // count))
    pattern = "checkerboard x channel halves"
    np.testing.assert_array_equal(screen.stages(pattern, 4, 6, 8), np.asarray(coding_stages(np.zeros((1, 4, 6, 8)), LAST_STAGES)))
    eight = np.asarray(coding_stages(np.zeros((1, 4, 6, 8)), 8))
    np.testing.assert_array_equal(screen.stages("2x2 phases x channel halves", 4, 6, 8), eight)
    rng = np.random.default_rng(0)
    z = ops.convert_to_tensor(rng.integers(-40, 41, (1, 4, 6, 8)), "float32")
    prior = MixturePrior(3, per_position=False, context=16)
    prior(z)
    prior.set_weights([w + 0.1 * rng.normal(size=w.shape) for w in prior.get_weights()])
    flow = type("Flow", (), {"prior": prior})()
    staged = screen.StagedPrior(flow, pattern, 16, 1)
    staged.net.set_weights(prior.context_net.get_weights())
    expected = -float(np.sum(prior(z))) / math.log(2.0)
    np.testing.assert_allclose(float(staged.bits(z, screen.stages(pattern, 4, 6, 8))), expected, rtol=1e-5)


def test_last_prior_table_starts_each_rate_from_the_same_weights(tmp_path, monkeypatch):
    import numpy as np

    script = _script("idf_last_prior")
    rng = np.random.default_rng(0)
    (tmp_path / "photos" / "train").mkdir(parents=True)
    for i in range(3):  # p00 is the validation part
        smooth = np.clip(np.cumsum(rng.integers(-3, 4, (64, 96, 3)), axis=1) + 128, 0, 255).astype("uint8")
        Image.fromarray(smooth).save(tmp_path / "photos" / "train" / f"p{i:02d}.png")
    monkeypatch.setenv("ZOO_PHOTOS_DIR", str(tmp_path / "photos"))
    written = {}
    monkeypatch.setattr(script, "write_results", lambda name, title, table, notes="": written.update(table=table))
    script.main(["idf-photos", "--learning-rates", "0", "0.03", "--steps", "3"])
    rows = [line.split("|")[1:-1] for line in written["table"].splitlines()[2:]]
    assert [r[0].strip() for r in rows] == ["as trained (on crops)", "0", "0.03"]
    trained, zero, fitted = ([float(c) for c in r[2:4]] for r in rows)
    assert zero == trained  # a rate of 0 moves nothing: every row starts from the same weights
    assert fitted[0] < trained[0]  # fitted on the training photographs


def test_map_gap_measures_the_stochastic_and_both_map_networks_on_the_same_images(monkeypatch):
    import numpy as np
    import tensorflow as tf

    import zoo
    from zoo import registry

    recipe = registry.spec("blrnet-mnist").recipe
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 28, 28, 1)).astype("uint8")
    labels = rng.integers(0, 10, 30)
    monkeypatch.setattr(type(recipe), "pipeline", lambda self, split, batch, training, data_dir=None:
                        tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch))
    from zoo.blrnet import recipes

    monkeypatch.setattr(recipes, "bn_images", lambda recipe, data_dir=None: [images[:10], images[10:20]])
    model = zoo.load("blrnet-mnist")
    found = _script("blrnet_map_gap").accuracies(model, recipe)
    published = recipes.map_accuracy(model, recipe, recipe.validation_split)  # the metric the manifest records
    assert found["MAP binary network, re-estimated statistics"] == published["map_accuracy"]
    assert found["stochastic network (mean activations)"] == published["accuracy"]
    assert 0 <= found["MAP binary network, trained statistics"] <= 1


def test_seed_spread_reads_one_run_per_seed_of_the_chain_from_the_manifest(monkeypatch):
    from zoo import manifest

    spread = _script("blrnet_seed_spread")
    chain = "--set binarize=sample --epochs 10"
    first = "zoo train blrnet-cifar10 --set binarize=propagate && "
    run = lambda command, val, test: {"command": first + command, "validation_metrics": {"map_accuracy": val},  # noqa: E731
                                      "metrics": {"map_accuracy": test}}
    entry = {"commands": {"train": first + chain + " --seed 1"}, "validation": {"metrics": {"map_accuracy": 0.81}},
             "metrics": {"map_accuracy": 0.79},
             "history": [run(chain + " --seed 1", 0.70, 0.70),  # an older run of seed 1: the latest counts
                         run(chain, 0.80, 0.80),  # seed 0, the recipe's
                         run("--set binarize=sample --epochs 5", 0.79, 0.79),  # another chain
                         {**run(chain + " --seed 2", 0.9, 0.9), "withdrawn": {"reason": "x"}}]}
    monkeypatch.setattr(manifest, "entry", lambda name: entry)
    runs = spread.chain_runs(chain)
    assert [(r["seed"], r["test"]["map_accuracy"], r["published"]) for r in runs] == [(0, 0.80, False), (1, 0.79, True)]
    with pytest.raises(SystemExit, match="no run"):
        spread.chain_runs("--epochs 99")


def test_weight_average_measures_each_moving_average_and_restores_the_trained_weights():
    import keras
    import numpy as np

    variable = keras.Variable(np.zeros(3, "float32"))
    averages = _script("weight_average").MovingAverages([variable], [0.5, 0.9], lambda: float(variable.numpy()[0]))
    for step in range(1, 4):  # the weights after each step: 1, 2, 3
        variable.assign(np.full(3, float(step), "float32"))
        averages.on_train_batch_end(step)
    averages.on_epoch_end(0)
    row = averages.rows[0]
    assert row["weights"] == 3.0  # the trained weights, put back after the averages were measured
    assert row[0.5] == pytest.approx(0.5 * (0.5 * 1 + 0.5 * 2) + 0.5 * 3)
    assert row[0.9] == pytest.approx(0.9 * (0.9 * 1 + 0.1 * 2) + 0.1 * 3)
    np.testing.assert_array_equal(variable.numpy(), [3.0, 3.0, 3.0])


def test_split_stages_screen_measures_what_the_flow_codes_and_keeps_every_weight():
    import math

    import numpy as np

    from test_idf_whole_image import _flow, _photo

    screen = _script("idf_split_stages")
    flow = _flow(3, seed=5, context=8)
    four = screen.with_stages(flow, 4)
    assert four.context_stages == 4 and all(prior.stages == 4 for prior in four.split_priors)
    for ours, theirs in zip(four.get_weights(), flow.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    image = _photo((32, 48, 3))
    for model in (flow, four):
        splits, _ = model.flow(image[None])
        latents = [[[np.asarray(kept)[0], np.asarray(y)[0], None, None]] for kept, y in splits]
        [bits] = screen.split_bits(model, latents, image.size)
        [(_, logp)] = model.latent_log_likelihoods(image[None])[:-1]
        np.testing.assert_allclose(bits, -float(logp[0]) / (image.size * math.log(2.0)), rtol=1e-5)


def test_idf_bfloat16_nets_puts_exactly_one_group_back_in_float32():
    """Each group's nets run float32 hidden layers and heads; every other net keeps the codec's bfloat16. Putting
    back the couplings and all the priors' nets, one group after another, gives the float32 flow's bits."""
    from test_idf_whole_image import _flow, _photo

    bench = _script("idf_bfloat16_nets")
    flow = _flow(3, context=8, last_context=8)
    every = [net for group in bench.GROUPS for net in bench.nets_of(flow, group)]
    assert len({id(net) for net in every}) == len(flow.couplings) + 2 * len(flow.split_priors) + 1  # every net
    assert bench.nets_of(flow, "couplings of level 0") + bench.nets_of(flow, "couplings of levels 1-4") \
        == bench.nets_of(flow, "couplings")
    for group in bench.GROUPS:
        copy = bench.in_float32(flow, group)
        chosen = {id(net) for net in bench.nets_of(copy, group)}
        for net in [n for g in bench.GROUPS for n in bench.nets_of(copy, g)]:
            dtypes = {conv.compute_dtype for conv in net.hidden_convolutions()}
            assert dtypes == ({"float32"} if id(net) in chosen else {"bfloat16"}), group
            assert (net.bfloat16_head is None) == (id(net) in chosen), group
    copy = bench.in_float32(flow, "couplings")
    for group in ("split priors' nets", "split priors' context nets", "last prior's context net"):
        for net in bench.nets_of(copy, group):
            net.set_precision("float32")
    images = [_photo((32, 48, 3), seed=2)]
    assert bench.mean_bits(copy, images) == pytest.approx(bench.mean_bits(flow, images), rel=1e-6)
    assert bench.mean_bits(bench.in_float32(flow, "none"), images) != bench.mean_bits(flow, images)


def test_the_side_by_side_rows_of_the_codec_choices_benchmarks():
    """benchmarks/idf_mean_shifts.py's and idf_offset_check.py's rows: both figures, their times and the change."""
    compare = _script("idf_mean_shifts").comparison_row
    row = compare("idf-photos", "as they are", 17, (3.68754, 10.71), (3.68683, 9.5), digits=5)
    assert row == ["`idf-photos`", "as they are", "17", "3.68754", "10.7", "3.68683", "9.5", "-0.00071 (-0.02%)"]


def test_the_escapes_benchmark_counts_what_the_stream_holds():
    """benchmarks/idf_escapes.py on a test flow's image with escapes: format 7's coded size is its stream's, and
    format 6's is that plus, per escaped value, 32 bits less its distance code."""
    from test_idf_scale_offsets import _patchy
    from test_idf_whole_image import _flow

    from zoo.idf.codec import Codec

    codec = Codec(_flow(3, seed=4, context=8, context_stages=4), "test-escapes", precision="float32")
    image = _patchy((128, 192, 3))
    coded, before, per_million, entries, lengths = _script("idf_escapes").escape_costs(codec, [image], "test")
    assert coded == 8 * len(codec.compress(image)) / image.size
    assert len(lengths) > 0 and per_million == pytest.approx(1e6 * len(lengths) / image.size)
    assert before - coded > 20 * len(lengths) / image.size and entries > 0


def test_portability_cells_count_the_restored_streams_and_name_the_failures(tmp_path):
    portability = _script("idf_portability")
    assert portability.cell(["restored"] * 3) == "3 of 3"
    assert portability.cell(["restored", "CodecError: CRC", "CodecError: CRC"]) == "1 of 3 (CodecError: CRC)"
    path = tmp_path / "missing.idf"
    assert portability.decode_elsewhere([path], {})[str(path)] == "FileNotFoundError"
