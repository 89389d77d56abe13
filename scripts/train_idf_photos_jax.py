"""Continue training `idf-photos` on an accelerator, with Keras's JAX backend.

The recipe of `zoo train NAME --from-pretrained` (random crops of the training part of `photos/train`,
left-right flips and clipped highlights, Adam with the warm-up-cosine schedule, `--lr-scale`,
`--clip-norm` as Keras's `global_clipnorm`, `--weight-average` as Keras's `use_ema`), as one jitted
JAX program: the photographs sit on the device and each step cuts its crops there, so the step, not the
input, sets the pace. Needs Keras and JAX only (no TensorFlow), so it runs where TensorFlow has no GPU
build. It publishes nothing and chooses nothing: it writes the weight average at fractions of the run
(`--save-at`); the harness then measures each on validation here and publishes the best one if it beats the
manifest (`zoo train NAME --from-weights FILE --epochs 0`), which records the command.

Where TensorFlow rounds float32 products on a GPU to TF32 the couplings' integer arithmetic would be
off, so the products here run at full float32 precision (`jax_default_matmul_precision`).

Without `--epochs`, the run takes as many epochs as fit in `--minutes`, from the speed of its first calls,
and the schedule (warm-up, cosine) spans them.

Example (an epoch is 128 steps of 16 crops of 128x128, as `zoo train idf-photos --batch-size 16`):
    KERAS_BACKEND=jax python scripts/train_idf_photos_jax.py hub/zoo-models/idf-photos \\
        --photos ../shared/data/photos/train --minutes 8 --seed 21 --out runs/jax
"""

import argparse
import importlib
import json
import math
import os
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")


def import_flow():
    """`zoo.idf.model` without `zoo.idf`'s `__init__`, whose codec imports TensorFlow."""
    import zoo

    if "zoo.idf" not in sys.modules:
        package = types.ModuleType("zoo.idf")
        package.__path__ = [str(Path(zoo.__file__).parent / "idf")]
        sys.modules["zoo.idf"] = package
    return importlib.import_module("zoo.idf.model")


def load_flow(folder, weights=None):
    """The flow of a checkpoint folder (`config.json`, `model.weights.h5`), or with other `weights`."""
    import_flow()
    folder = Path(folder)
    model = keras.saving.deserialize_keras_object(json.loads((folder / "config.json").read_text()))
    model.load_weights(weights or folder / "model.weights.h5")
    return model


def training_photos(folder, mode):
    """The training part of a photo collection (every file but each tenth, as `zoo.data.photo_files`)."""
    from zoo import data

    files = data.photo_files(Path(folder).name, "train", photos_dir_=Path(folder).parent)
    return files, data._read(files, mode)


def crop_sampler(images, crop):
    """A jittable `sample(key, count)` -> uint8 (count, crop, crop, C): each crop's photograph drawn with
    probability proportional to its area, its place uniform, as `zoo.data.photo_crops`; then a left-right
    flip with probability 1/2 and, with probability 1/2, every channel brightened by a whole number in
    [0, 64] and clipped at 255 (`zoo.idf.recipes.clipped_highlights`)."""
    flat = jnp.asarray(np.concatenate([image.reshape(-1) for image in images]))
    heights = jnp.asarray([image.shape[0] for image in images])
    widths = jnp.asarray([image.shape[1] for image in images])
    offsets = jnp.asarray(np.concatenate([[0], np.cumsum([image.size for image in images])[:-1]]))
    log_areas = jnp.log(heights * widths.astype("float32"))
    channels = images[0].shape[-1]
    ys, xs, cs = jnp.meshgrid(jnp.arange(crop), jnp.arange(crop), jnp.arange(channels), indexing="ij")

    def one(key):
        pick, row, col, flip, bright, shift = jax.random.split(key, 6)
        i = jax.random.categorical(pick, log_areas)
        y = jax.random.randint(row, (), 0, heights[i] - crop + 1)
        x = jax.random.randint(col, (), 0, widths[i] - crop + 1)
        out = flat[offsets[i] + ((y + ys) * widths[i] + x + xs) * channels + cs]
        out = jnp.where(jax.random.bernoulli(flip), out[:, ::-1], out)
        lift = jax.random.randint(shift, (channels,), 0, 65) * jax.random.bernoulli(bright)
        return jnp.minimum(out.astype("int32") + lift, 255).astype("uint8")

    return lambda key, count: jax.vmap(one)(jax.random.split(key, count))


def learning_rate(step, total, peak, warmup=1000):
    """`zoo.idf.recipes.warmup_cosine` at `step` of `total`: linear to `peak` over min(`warmup`, total / 10)
    steps, then a cosine decay to 5% of it."""
    warmup = max(min(warmup, total // 10), 1)
    if step < warmup:
        return peak * step / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args):
    start = time.time()
    model = load_flow(args.checkpoint, args.weights)
    mode = "L" if model.image_shape[-1] == 1 else "RGB"  # a gray flow trains on luma, with idf-photos' augmentation
    files, images = training_photos(args.photos, mode)
    sample = crop_sampler(images, args.crop)
    # the rate is a variable of the optimizer's state, set before every call, so the run's length can be
    # settled after its first timed calls (--minutes) without tracing the step again
    opt = keras.optimizers.Adam(0.0, global_clipnorm=args.clip_norm, use_ema=args.weight_average is not None,
                                ema_momentum=args.weight_average or 0.99, ema_overwrite_frequency=None)
    opt.build(model.trainable_variables)
    rate = next(i for i, v in enumerate(opt.variables) if v is opt._learning_rate)

    def loss(trainable, fixed, batch):
        bits, fixed = model.stateless_call(trainable, fixed, batch)
        return keras.ops.mean(bits), fixed

    grad = jax.value_and_grad(loss, has_aux=True)

    def step(state, key):
        trainable, fixed, slots = state
        (value, fixed), grads = grad(trainable, fixed, sample(key, args.batch_size))
        trainable, slots = opt.stateless_apply(slots, grads, trainable)
        return (trainable, fixed, slots), value

    @jax.jit
    def steps(state, key):  # `--chunk` steps per call: fewer dispatches from Python
        return jax.lax.scan(step, state, jax.random.split(key, args.chunk))

    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in opt.variables])
    key = jax.random.key(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = {"checkpoint": str(args.checkpoint), "weights": args.weights, "photographs": len(files),
           "backend": keras.backend.backend(), "devices": [f"{d} ({d.device_kind})" for d in jax.devices()], "args": vars(args),
           "chunks": []}
    total = args.epochs * args.steps_per_epoch if args.epochs else None
    done, losses, saves, timed = 0, [], set(), None
    while total is None or done < total:
        lr = learning_rate(done, total or 10**9, args.peak_lr * args.lr_scale)
        slots = list(state[2])
        slots[rate] = jnp.asarray(lr, slots[rate].dtype)
        key, now = jax.random.split(key)
        began = time.time()
        state, values = steps((state[0], state[1], slots), now)
        loss_value = float(jnp.mean(values))
        done += args.chunk
        losses.append(loss_value)
        if not math.isfinite(loss_value):
            log["stopped"] = f"non-finite loss after step {done}"
            break
        if total is None and len(losses) == 3:  # the first call compiles; the next two are timed
            timed = (time.time() - began) / args.chunk
            left = args.minutes * 60 - (time.time() - start) - args.reserve
            total = max(int(left / timed), done, 1) // args.steps_per_epoch * args.steps_per_epoch
            total = max(total, -(-done // args.steps_per_epoch) * args.steps_per_epoch)
            log.update(seconds_per_step=round(timed, 5), total_steps=total)
            print(f"{timed * 1e3:.1f} ms a step: {total} steps ({total // args.steps_per_epoch} epochs)", flush=True)
        if total is not None and done % args.steps_per_epoch == 0:
            epoch = done // args.steps_per_epoch
            mean = sum(losses) / len(losses)
            log["chunks"].append({"epoch": epoch, "loss": round(mean, 6), "lr": lr,
                                  "seconds": round(time.time() - start, 1)})
            print(f"epoch {epoch}/{total // args.steps_per_epoch}  loss {mean:.5f}  lr {lr:.2e}  "
                  f"{time.time() - start:.0f} s", flush=True)
            losses = []
            due = {f for f in args.save_at if epoch >= round(f * total / args.steps_per_epoch)} - saves
            if due:
                saves |= due
                save(model, opt, state, out / f"epoch{epoch:04d}.weights.h5")
            (out / "log.json").write_text(json.dumps(log, indent=1))
    (out / "log.json").write_text(json.dumps(log, indent=1))
    write_run_files(out, log, args.photos)


def write_run_files(out, log, photos):
    """The harness's run record and training log (`run.json`, `training_log.json`) beside the saved weights,
    so that `zoo train NAME --from-weights out/epochNNNN.weights.h5 --epochs 0` measures and publishes one
    with this run, and the chain before it, in its command and its epoch and time totals. The command is
    recorded with the run's length in `--epochs` (the schedule a `--minutes` run took) and `photos`."""
    from zoo import manifest

    args = log["args"]
    epochs = log["chunks"][-1]["epoch"] if log["chunks"] else 0
    start = Path(args["weights"] or Path(args["checkpoint"]) / "model.weights.h5")
    options = {"--weights": args["weights"], "--photos": photos, "--out": str(out), "--epochs": epochs,
               **{f"--{k.replace('_', '-')}": args[k] for k in ("steps_per_epoch", "batch_size", "crop", "peak_lr",
                                                                "lr_scale", "clip_norm", "weight_average", "seed")}}
    command = "KERAS_BACKEND=jax python scripts/train_idf_photos_jax.py " + " ".join(
        [args["checkpoint"], *(f"{k} {v}" for k, v in options.items() if v is not None)])
    earlier = Path(args["checkpoint"]) / "training_log.json"
    runs = json.loads(earlier.read_text())["runs"] if earlier.is_file() and not args["weights"] else []
    epoch_log = [{"epoch": c["epoch"], "seconds": c["seconds"], "loss": c["loss"]} for c in log["chunks"]]
    (out / "training_log.json").write_text(json.dumps(
        {"runs": [*runs, {"command": command, "monitor": None, "epochs": epoch_log}]}, indent=1))
    before = published_training(args["checkpoint"]) if not args["weights"] else {}
    seconds = log["chunks"][-1]["seconds"] if log["chunks"] else 0
    run = {"epochs": epochs, "steps_per_epoch": args["steps_per_epoch"], "batch_size": args["batch_size"],
           "wall_clock_s": seconds, "device": ", ".join(log["devices"]), "backend": log["backend"],
           "seed": args["seed"], "lr_scale": args["lr_scale"], "weight_average": args["weight_average"],
           "clip_norm": args["clip_norm"],
           "initialized_from": {"weights": str(start), "weights_sha256": manifest.sha256(start)},
           "total_epochs": before.get("total_epochs", 0) + epochs,
           "total_wall_clock_s": round(before.get("total_wall_clock_s", 0) + seconds, 1)}
    (out / "run.json").write_text(json.dumps(run, indent=1))


def published_training(checkpoint):
    """The manifest's `training` record of the published checkpoint folder `checkpoint` ({} if none)."""
    from zoo import manifest, paths

    folder = Path(checkpoint).resolve()
    entries = manifest.read().values()
    return next((e.get("training", {}) for e in entries if folder == (paths.LOCAL_HUB / e["repo_id"]).resolve()), {})


def save(model, opt, state, path):
    """Write the weight average (or the weights, without `--weight-average`) of `state` to `path`."""
    trainable, fixed, slots = state
    for variable, value in zip(model.trainable_variables, trainable):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, fixed):
        variable.assign(value)
    for variable, value in zip(opt.variables, slots):
        variable.assign(value)
    if opt.use_ema:
        opt.finalize_variable_values(model.trainable_variables)
    model.save_weights(path)
    print(f"wrote {path}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a checkpoint folder: config.json and model.weights.h5")
    parser.add_argument("--weights", help="start from these weights instead of the folder's")
    parser.add_argument("--photos", required=True, help="the photo collection (photos/train)")
    parser.add_argument("--out", help="folder for the saved weight averages and log.json")
    parser.add_argument("--epochs", type=int, help="epochs of --steps-per-epoch steps; default: as many as "
                        "fit in --minutes, from the speed of the first calls")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall clock for the whole run, without --epochs")
    parser.add_argument("--reserve", type=float, default=30.0, help="seconds of --minutes kept for the saves")
    parser.add_argument("--steps-per-epoch", type=int, default=128, help="default: 2048 crops of 16")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--peak-lr", type=float, default=3e-4, help="the recipe's (idf-photos)")
    parser.add_argument("--lr-scale", type=float, default=0.5)
    parser.add_argument("--clip-norm", type=float, default=20.0)
    parser.add_argument("--weight-average", type=float, default=0.996)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=32, help="steps per jitted call (divides --steps-per-epoch)")
    parser.add_argument("--save-at", type=float, nargs="+", default=[0.5, 0.75, 0.9, 1.0],
                        help="fractions of the run after which the weight average is saved")
    parser.add_argument("--records", metavar="LOG",
                        help="only write run.json and training_log.json beside a finished run's log.json")
    args = parser.parse_args(argv)
    if args.records:
        log = Path(args.records)
        return write_run_files(log.parent, json.loads(log.read_text()), args.photos)
    if not args.out:
        parser.error("--out is required")
    if args.steps_per_epoch % args.chunk:
        parser.error("--chunk must divide --steps-per-epoch")
    train(args)


if __name__ == "__main__":
    main()
