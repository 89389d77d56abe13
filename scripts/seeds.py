"""Train registered models with several seeds under the harness, and report mean and standard deviation.

Each (model, seed) is `zoo train NAME --seed S --epochs E --workdir runs/NAME-seedS`: the validation
split picks its best epoch, and a run replaces the published checkpoint only if it beats it on
validation, so after the sweep the published checkpoint is the best one by validation. A published
checkpoint that was selected on the test split trained on the validation examples, so it cannot be
compared there: once all of a model's seeds have finished, the sweep's best run by validation replaces
it. Each finished run's best epoch is measured once on the test split too, for the spread in the table,
never to choose.
A finished run is recorded in its workdir (`seed_result.json`) and skipped when the script runs again,
so a sweep longer than a session continues where it stopped (an interrupted run resumes from its backup).
With `--from-manifest`, a seed the manifest already holds a run of the plain recipe for (`zoo train NAME`,
its seed and epochs; the published entry or its history) is read from there instead of trained again.
Models measured by different metrics (a PBNet's MAP accuracy, a BNN's accuracy) each use their own.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python scripts/seeds.py hexaconv-z2-aid hexaconv-hex-aid \\
        hexaconv-p6-aid hexaconv-p6m-aid --seeds 0 1 2 --epochs 30 --results hexaconv_aid_seeds

Writes results/<--results>.md once every run has finished (`--report` writes it from the runs so far).
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def run_seed(name, seed, epochs, data_dir=None):
    """{"validation": metrics, "test": metrics, "published": bool} of one seed's run (trained if not done)."""
    from zoo import registry, training

    workdir = Path("runs") / f"{name}-seed{seed}"
    done = workdir / "seed_result.json"
    if done.exists():
        return json.loads(done.read_text())
    code = training.code_version()  # the code that trains it (a commit made while it runs is not)
    spec = registry.spec(name)
    command = f"zoo train {name} --seed {seed} --epochs {epochs} --workdir {workdir}"
    model, metrics = training.train(spec, epochs=epochs, seed=seed, workdir=workdir, data_dir=data_dir, command=command)
    published = metrics["test"] is not None
    test = metrics["test"] if published else training.evaluate(model, spec, data_dir=data_dir)
    result = {"name": name, "seed": seed, "epochs": epochs, "validation": metrics["validation"], "test": test,
              "published": published, "code": code, "cpu_count": len(os.sched_getaffinity(0))}
    done.write_text(json.dumps(result, indent=1))
    return result


def recorded_runs(name):
    """Every run the manifest records for `name`, newest first: the published entry (marked `"current": True`)
    in the shape of its history's records (command, validation_metrics, metrics, code, training), then the
    history; empty when nothing is published."""
    from zoo import manifest

    entry = manifest.entry(name)
    if entry is None:
        return []
    current = {"command": entry["commands"]["train"], "validation_metrics": (entry.get("validation") or {}).get("metrics"),
               "metrics": entry["metrics"], "code": entry.get("code"), "training": entry.get("training"), "current": True}
    return [current, *reversed(entry.get("history", []))]


def published_run(name, seed, epochs):
    """The seed's result read from the manifest, when the manifest (the published entry or its history) holds
    a run of the plain recipe, `zoo train NAME`, and that is what this seed asks for (the recipe's seed and
    epochs); else None. A sweep then need not train again what is already measured."""
    from zoo import registry

    recipe = registry.spec(name).recipe
    if (seed, epochs) != (recipe.seed, recipe.epochs):
        return None
    for run in recorded_runs(name):
        trained = run.get("training") or {}
        if (run.get("command") == f"zoo train {name}" and run.get("validation_metrics") and "withdrawn" not in run
                and trained.get("epochs", epochs) == epochs and trained.get("seed", seed) == seed):
            return {"name": name, "seed": seed, "epochs": epochs, "validation": run["validation_metrics"],
                    "test": run["metrics"], "published": bool(run.get("current")), "code": run.get("code"),
                    "from_manifest": True}
    return None


def replace_test_selected(name, runs, data_dir=None):
    """Publish the best of `runs` (all seeds of `name`, finished) by validation in place of a published
    checkpoint selected on the test split; returns whether it did.

    `zoo train` compares a run with the published checkpoint on the validation split, but a test-selected
    checkpoint trained on those examples and would always look better there; the sweep's runs, all under
    the validation split, are compared with each other instead.
    """
    from zoo import manifest, registry, training

    entry = manifest.entry(name)
    runs = [r for r in runs if not r.get("from_manifest")]  # no workdir to publish from
    if entry is None or entry.get("selection") != "test" or not runs or any(r["published"] for r in runs):
        return False
    spec = registry.spec(name)
    recipe = spec.recipe
    best = (max if recipe.higher_is_better else min)(runs, key=lambda r: r["validation"][recipe.metric])
    workdir = Path("runs") / f"{name}-seed{best['seed']}"
    model = spec.builder()
    finished = workdir / training.FINISHED_WEIGHTS  # the best epoch after the recipe's finish step, where it has one
    model.load_weights(finished if finished.exists() else workdir / "best.weights.h5")
    run = json.loads((workdir / training.RUN_RECORD).read_text())
    log_path = workdir / training.TRAINING_LOG
    log = json.loads(log_path.read_text()) if log_path.exists() else None
    command = f"zoo train {name} --seed {best['seed']} --epochs {best['epochs']} --workdir {workdir}"
    print(f"{name}: the published checkpoint was selected on the test split; publishing seed {best['seed']}, "
          f"the sweep's best by validation {recipe.metric}", flush=True)
    training.publish_checkpoint(model, spec, best["test"], command, validation=best["validation"],
                                data_dir=data_dir, code=best["code"], run=run, training_log=log)
    best["published"] = True
    (workdir / "seed_result.json").write_text(json.dumps(best, indent=1))
    return True


def table(results, metric):
    """Markdown: per model, mean +- standard deviation (over seeds) of validation and test `metric`, and the
    difference of its mean test `metric` to the first model's (the baseline) with the standard error of that
    difference, sqrt(sd_a^2 / n_a + sd_b^2 / n_b). `metric` is one name for all, or {model: its metric} for
    models measured by different ones (a PBNet's `map_accuracy` against a BNN's `accuracy`)."""
    from results_file import markdown_table

    from zoo import manifest

    def spread(values):
        return f"{values.mean():.4f} +- {values.std(ddof=1):.4f}" if len(values) > 1 else f"{values.mean():.4f}"

    def difference(test, base):
        """Difference of mean test `metric` to the baseline's, with its standard error from the seeds' spread."""
        if len(test) < 2 or len(base) < 2:
            return ""
        se = np.sqrt(test.var(ddof=1) / len(test) + base.var(ddof=1) / len(base))
        return f"{test.mean() - base.mean():+.4f} ({se:.4f})"

    metrics = metric if isinstance(metric, dict) else {name: metric for name in results}
    mixed = len(set(metrics.values())) > 1
    baseline = next(iter(results))
    base = np.array([r["test"][metrics[baseline]] for r in results[baseline]])
    rows = []
    for name, runs in results.items():
        val = np.array([r["validation"][metrics[name]] for r in runs])
        test = np.array([r["test"][metrics[name]] for r in runs])
        published = [r["seed"] for r in runs if r["published"]]
        if published:
            chosen = str(published[-1])
        elif (manifest.entry(name) or {}).get("selection") == "test":
            chosen = "none yet (the test-selected checkpoint is replaced once every seed has finished)"
        else:
            chosen = "none (the published checkpoint is better on validation)"
        rows.append([f"`{name}`" + (f" ({metrics[name]})" if mixed else ""), str(len(runs)), spread(val), spread(test),
                     ", ".join(f"{t:.4f}" for t in test), "baseline" if name == baseline else difference(test, base),
                     chosen])
    shown = "(model's metric)" if mixed else metrics[baseline]
    return markdown_table(["model", "seeds", f"validation {shown} (mean +- sd)", f"test {shown} (mean +- sd)",
                           "test, per seed", f"test mean minus `{baseline}`'s (s.e.)", "published seed"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--results", required=True, help="results/<RESULTS>.md")
    parser.add_argument("--report", action="store_true", help="only write the table of the runs finished so far")
    parser.add_argument("--no-replace", action="store_true",
                        help="never replace a test-selected checkpoint (for a helper process that runs some seeds "
                             "of a sweep; the sweep over all seeds decides)")
    parser.add_argument("--from-manifest", action="store_true",
                        help="take a seed's run from the manifest where it records one of the plain recipe "
                             "(`zoo train NAME`: the recipe's seed and epochs) instead of training it again")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    from results_file import write_results

    from zoo import registry

    results, metric = {}, {}
    for name in args.names:
        recipe = registry.spec(name).recipe
        metric[name] = recipe.metric
        epochs = args.epochs or recipe.epochs
        results[name] = []
        for seed in args.seeds:
            done = Path("runs") / f"{name}-seed{seed}" / "seed_result.json"
            measured = published_run(name, seed, epochs) if args.from_manifest else None
            if measured:
                results[name].append(measured)
                continue
            if args.report and not done.exists():
                continue
            results[name].append(run_seed(name, seed, epochs, args.data_dir))
            print(f"{name} seed {seed}: validation {results[name][-1]['validation'][metric[name]]:.4f}, "
                  f"test {results[name][-1]['test'][metric[name]]:.4f}", flush=True)
        if not (args.report or args.no_replace) and len(results[name]) == len(args.seeds):
            replace_test_selected(name, results[name], args.data_dir)
    results = {n: r for n, r in results.items() if r}
    metric = {n: metric[n] for n in results}
    if not results:
        raise SystemExit("no run has finished yet: nothing to report")
    complete = all(len(r) == len(args.seeds) for r in results.values()) and len(results) == len(args.names)
    title = (f"Seeds {', '.join(map(str, args.seeds))} per model, "
             f"{args.epochs or 'the recipe'} epochs each" + ("" if complete else "; NOT COMPLETE, runs so far")
             + ("; runs of the plain recipe read from the manifest where it has them" if args.from_manifest else ""))
    write_results(args.results, title, table(results, metric))


if __name__ == "__main__":
    main()
