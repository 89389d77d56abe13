"""`zoo`: the command line. `zoo --help` lists the commands, `zoo CMD --help` explains one."""

import argparse
import os
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.command_line = "zoo " + shlex.join([a for a in argv if a != "--verbose"])
    from zoo.errors import ZooError

    try:
        with _quiet_native_logs(enabled=not args.verbose):
            return args.run(args) or 0
    except ZooError as e:
        message = " ".join(str(e).split())  # one line, however the message was laid out
        print(f"zoo: error: {message}", file=sys.stderr)
        return 1
    except OSError as e:  # a path the user gave that cannot be read or written
        print(f"zoo: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


class _quiet_native_logs:
    """Send what native code (TensorFlow's C++ logging) writes to file descriptor 2 to /dev/null, while
    Python's own `sys.stderr` (errors, warnings, progress bars) still reaches the terminal."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        if not self.enabled:
            return self
        try:
            sys.stderr.flush()
            self.saved_fd = os.dup(2)
        except (OSError, ValueError):  # no file descriptor 2 (an embedding host): nothing to silence
            self.enabled = False
            return self
        try:
            python_uses_fd2 = sys.stderr.fileno() == 2
        except (OSError, ValueError, AttributeError):  # e.g. captured by a test runner
            python_uses_fd2 = False
        self.saved_stderr = sys.stderr
        if python_uses_fd2:
            sys.stderr = os.fdopen(os.dup(self.saved_fd), "w", buffering=1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            sys.stderr.flush()
            os.dup2(self.saved_fd, 2)
            os.close(self.saved_fd)
            if sys.stderr is not self.saved_stderr:
                sys.stderr.close()
                sys.stderr = self.saved_stderr
        return False


def _parser():
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="Pretrained Keras models with pinned weights: list, inspect, fetch, evaluate, export, train; "
        "lossless image compression with an integer discrete flow."
    )
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="the catalogue, one model a line, with its measured metric")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'idf-*'")
    p.add_argument("--pretrained", action="store_true", help="only models with a published checkpoint")
    p.set_defaults(run=_list)

    p = sub.add_parser("info", help="a model's description, checkpoint files, metrics and commands (JSON)")
    p.add_argument("name")
    p.set_defaults(run=_info)

    p = sub.add_parser("download", help="fetch and verify a model's checkpoint files")
    p.add_argument("name")
    p.add_argument("--to", metavar="DIR", help="also copy them to DIR/<org>/<model>/, a folder to use as ZOO_WEIGHTS_DIR")
    p.set_defaults(run=_download)

    p = sub.add_parser("eval", help="rerun a pretrained model's evaluation and compare with the manifest")
    p.add_argument("name")
    p.add_argument("--split", choices=("test", "validation"), default="test",
                   help="the test split (default) or the validation split carved from the training data")
    p.add_argument("--data-dir", help="tfds data folder (default $ZOO_DATA_DIR)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--check", action="store_true",
                   help="exit with status 3 if a metric drifts from the manifest by more than --tolerance")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="allowed |measured - manifest| / max(1, |manifest|) with --check (default 1e-4)")
    p.set_defaults(run=_eval)

    p = sub.add_parser("export", help="export a pretrained model to LiteRT (.tflite) and check it against Keras")
    p.add_argument("name")
    p.add_argument("output", metavar="OUT.tflite")
    p.add_argument("--samples", type=int, default=16, help="test-split examples to compare on (default 16)")
    p.add_argument("--data-dir", help="tfds data folder for the samples (default $ZOO_DATA_DIR)")
    p.add_argument("--binary", choices=("map", "ternary", "sample"),
                   help="blrnet models: export the deterministic binary network of this kind (batch norms "
                   "re-estimated on 20 batches of training images) instead of the stochastic one, its +-1 "
                   "weights stored as int8 (exact: see blrnet.zero_one_form)")
    p.set_defaults(run=_export)

    p = sub.add_parser("compress", help="losslessly compress PNG files or folders with an integer discrete flow")
    p.add_argument("inputs", nargs="+", metavar="IN", help="PNG files or folders of them")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the output file for one input file, else a folder (streams end in .idf)")
    p.add_argument("--model", help="the IDF model to code with (default: every published one that fits the "
                   "image, keeping the shortest stream)")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16", "portable"), default="auto",
                   help="the networks' arithmetic (default auto: bfloat16 for photo models on CPUs with bfloat16 "
                   "matrix units: faster, at a small cost in bits; the stream records it). Streams decode only on "
                   "CPUs that compute alike; portable: exact arithmetic, decodable on any machine, several times "
                   "slower")
    _jobs_argument(p)
    p.set_defaults(run=_compress)

    p = sub.add_parser("decompress", help="restore PNG files from .idf streams, bit for bit")
    p.add_argument("inputs", nargs="+", metavar="IN", help=".idf files or folders of them")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the output file for one input file, else a folder")
    _jobs_argument(p)
    p.set_defaults(run=_decompress)

    p = sub.add_parser(
        "train",
        help="train a model by its recipe; resumable; publishes to hub/ when it beats the manifest on validation",
        description="Train NAME by its recipe on its training split. Rerunning with the same --workdir resumes "
        "from the last backup. The validation split (carved from the training data) is measured every epoch; "
        "the best epoch is kept and, if its validation metric beats the published checkpoint's, it is measured "
        "once on the test split and written to hub/ and weights_manifest.json with the git commit and command.",
    )
    p.add_argument("name")
    p.add_argument("--epochs", type=int, help="default: the recipe's; 0 trains nothing: the weights of --from-pretrained "
                   "or --from-weights go through the recipe's finish step (idf-photos fits its priors to whole "
                   "photographs) and are measured, and published if better")
    p.add_argument("--batch-size", type=int, help="per replica; default: the recipe's")
    p.add_argument("--steps-per-epoch", type=int, help="default: the whole training split")
    p.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"), default="default",
                   help="tf.distribute strategy; multi-worker reads TF_CONFIG")
    p.add_argument("--workdir", help="backups, TensorBoard logs and the best epoch's weights (default ./runs/NAME)")
    p.add_argument("--data-dir", help="tfds data folder (default $ZOO_DATA_DIR)")
    p.add_argument("--no-publish", action="store_true", help="train only; do not evaluate or publish")
    p.add_argument("--from-pretrained", action="store_true",
                   help="start from the published checkpoint instead of a fresh model (to keep improving it)")
    p.add_argument("--from-weights", metavar="FILE",
                   help="start from this weights file of the model (an earlier run's best.weights.h5, say)")
    p.add_argument("--from-scratch", action="store_true",
                   help="start from random weights, skipping the recipe's initializer (idf-photos starts from "
                   "idf-cifar10's layers, a binary network from its full-precision twin)")
    p.add_argument("--seed", type=int, help="replaces the recipe's seed (initialization, shuffling, augmentation)")
    p.add_argument("--lr-scale", type=float, default=1.0,
                   help="multiplies the recipe's learning rate, schedule and all (default 1; a continuation with "
                   "--from-pretrained usually wants a fraction)")
    p.add_argument("--weight-average", type=float, metavar="MOMENTUM",
                   help="validate, keep and publish an exponential moving average of the weights with this "
                   "momentum per step (e.g. 0.999) instead of the weights themselves (default: the recipe's)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="train in the model's mixed precision (IDF: hidden convolutions in bfloat16, about a quarter "
                   "faster on CPUs with AMX); the model is validated and measured in float32 (the photo IDF recipes also measure, "
                   "fit their finish step in and select on the bfloat16 codec's arithmetic, whichever precision trains). "
                   "Without --clip-norm, three of four long idf-photos continuations in it became NaN, as did one of two "
                   "in float32 (docs/idf.md)")
    p.add_argument("--clip-norm", type=float, metavar="NORM",
                   help="scale each step's gradients down to this global norm where they exceed it (recorded in the run)")
    p.add_argument("--no-finish", action="store_true",
                   help="skip the recipe's finish step (idf-photos: refitting its last prior and context nets to "
                   "whole photographs, about 20 minutes); the run records that it was skipped")
    p.add_argument("--crop", type=int, metavar="PIXELS",
                   help="recipes that train on random crops (the photo IDFs): crops this many pixels a side "
                   "instead of the recipe's, as many fewer an epoch as keeps its pixels (a multiple of 32 for "
                   "idf-photos); pair it with --batch-size to keep a step's pixels too; recorded in the run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a builder argument for this run, e.g. --set reconstruction_trains=inverse (repeatable; "
                   "values read as JSON where they parse); recorded in the published config and command")
    p.set_defaults(run=_train)
    return parser


def _list(args):
    import fnmatch
    import json
    from pathlib import Path

    from zoo import manifest  # no TensorFlow: the catalogue file and the manifest say it all

    catalogue = json.loads((Path(__file__).parent / "catalogue.json").read_text())
    published = manifest.read()
    names = [n for n in sorted(catalogue) if fnmatch.fnmatchcase(n, args.pattern)]
    if args.pretrained:
        names = [n for n in names if n in published]
    width = max((len(n) for n in names), default=0)
    for name in names:
        item = published.get(name)
        if item:
            metric = manifest.selected_on(item, catalogue[name]["metric"])
            ds = item["dataset"]
            score = f"{metric} {item['metrics'][metric]:.4f} ({ds['name']} {ds['split']}; chosen on {item['selection']})"
        else:
            score = "no checkpoint yet"
        print(f"{name:<{width}}  {score:<52}  {catalogue[name]['description']}")


def _info(args):
    import json

    import zoo

    print(json.dumps(zoo.info(args.name), indent=2))


def _download(args):
    from zoo import hub, registry

    registry.spec(args.name)
    ckpt = hub.fetch(args.name)
    print(f"{args.name}: {len(ckpt.files)} files verified, from {ckpt.source}")
    for f, path in sorted(ckpt.files.items()):
        print(f"  {f}  {path}")
    if args.to:
        print(f"copied to {hub.copy_to(ckpt, args.to)}")


def _eval(args):
    import zoo
    from zoo import training

    spec = zoo.registry.spec(args.name)
    model = zoo.load(args.name)
    split = spec.recipe.validation_split if args.split == "validation" else None
    metrics = training.evaluate(model, spec, data_dir=args.data_dir, batch_size=args.batch_size, split=split)
    entry = zoo.info(args.name)
    published = entry.get("validation", {}).get("metrics", {}) if split else entry.get("metrics", {})
    drifted = []
    for k, v in metrics.items():
        note = f"  (manifest: {published[k]})" if k in published else ""
        if k in published and abs(v - published[k]) > args.tolerance * max(1.0, abs(published[k])):
            drifted.append(k)
            note += "  DRIFTED"
        print(f"{k}: {v}{note}")
    if args.check:
        if not published:
            print(f"zoo: error: the manifest records no {args.split} metrics for {args.name} to check against",
                  file=sys.stderr)
            return 3
        if drifted:
            print(f"zoo: error: {', '.join(drifted)} drifted from the manifest beyond {args.tolerance:g} "
                  "(relative to max(1, |value|))", file=sys.stderr)
            return 3
        print(f"check passed: every metric within {args.tolerance:g} of the manifest")


def _export(args):
    import zoo
    from zoo import export

    spec = zoo.registry.spec(args.name)
    model = zoo.load(args.name)
    if args.binary:
        from zoo import blrnet
        from zoo.blrnet.recipes import bn_images
        from zoo.errors import ExportError

        if not any(isinstance(layer, blrnet.StochasticBinarization) for layer in model.layers):
            raise ExportError(f"--binary applies to probabilistic binary networks (blrnet-*), not {args.name}")
        model = blrnet.zero_one_form(blrnet.to_binary(model, args.binary, data=bn_images(spec.recipe, args.data_dir)))
    samples, source = export.sample_inputs(spec, args.samples, data_dir=args.data_dir)
    report = export.to_litert(model, args.output, samples=samples, sample_source=source, int8_weights=bool(args.binary))
    print(report)


def _jobs_argument(parser):
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="files coded at a time (default 2: faster on a folder than one at a time, the "
                        "same bytes; 1 for the least memory)")


def _compress(args):
    from zoo.idf import files

    s = files.compress_paths(args.inputs, args.output, model=args.model, precision=args.precision,
                             jobs=files.JOBS if args.jobs is None else args.jobs)
    ratio = s["ratio_to_png"]
    against = f"{ratio:.2f}x smaller than" if ratio >= 1 else f"{1 / ratio:.2f}x larger than"
    print(
        f"{s['images']} image(s): {s['bits_per_dim']:.3f} bits per dimension "
        f"(PNG input {s['png_bits_per_dim']:.3f}), {against} the PNGs"
    )
    local = [precision for precision in s["precisions"] if precision != "portable"]
    if local:
        print(f"The {' and '.join(local)} streams decode where the CPU computes as this one does; "
              "--precision portable writes streams that decode on any machine.")


def _decompress(args):
    from zoo.idf import files

    jobs = files.JOBS if args.jobs is None else args.jobs
    print(f"{files.decompress_paths(args.inputs, args.output, jobs)['images']} image(s) restored")


def _train(args):
    from zoo import registry, training

    from zoo.errors import ZooError

    try:
        overrides = registry.parse_overrides(args.set, "--set")
    except ValueError as e:
        raise ZooError(str(e)) from None
    if sum(map(bool, (args.from_weights, args.from_pretrained, args.from_scratch))) > 1:
        raise ZooError("--from-weights, --from-pretrained and --from-scratch each choose the starting weights; give one")
    if args.epochs is not None and args.epochs < 0:
        raise ZooError(f"--epochs must be 0 or more, not {args.epochs}")
    if args.weight_average is not None and not 0 < args.weight_average < 1:
        raise ZooError(f"--weight-average is a momentum between 0 and 1 (0.999, say), not {args.weight_average}")
    if args.epochs == 0 and not (args.from_weights or args.from_pretrained):
        raise ZooError("--epochs 0 trains nothing; it measures the weights of --from-pretrained or --from-weights")
    spec = registry.with_builder_overrides(registry.spec(args.name), overrides)
    if args.no_finish and spec.recipe is not None and spec.recipe.finish is None:
        raise ZooError(f"--no-finish: '{args.name}' has no finish step to skip")
    if args.crop is not None and spec.recipe is not None:
        try:
            spec.recipe.with_crop(args.crop)
        except ValueError as e:
            raise ZooError(f"--crop {args.crop}: '{args.name}' {e}") from None
    training.train(
        spec,
        epochs=args.epochs,
        batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch,
        strategy=args.strategy,
        workdir=args.workdir,
        data_dir=args.data_dir,
        publish=not args.no_publish,
        from_pretrained=args.from_pretrained,
        from_weights=args.from_weights,
        from_scratch=args.from_scratch,
        command=args.command_line,
        seed=args.seed,
        lr_scale=args.lr_scale,
        weight_average=args.weight_average,
        clip_norm=args.clip_norm,
        mixed_precision=args.mixed_precision,
        finish=not args.no_finish,
        crop=args.crop,
    )


if __name__ == "__main__":
    sys.exit(main())
