"""Would context in a photo flow's last prior save bits, and which coding stages? The flow kept fixed, a
context net learns, from the values decoded in earlier stages, a discretized logistic for each later
stage's values; the first stage stays under the published last prior (a mixture per channel).

Stage patterns (`zoo.idf.layers.last_stages` is "checkerboard x channel halves"):
- checkerboard: the anchors (i + j even), then the others (2 stages);
- checkerboard x channel halves: the anchors' first half of the channels, their second half, then the
  others' first and second halves (4 stages);
- 2x2 phases x channel halves: the four positions of each 2x2 block in turn, each in two channel halves (8).

The net sees the earlier stages' values, their sizes and where they are (zero elsewhere): a 3x3
convolution `width` wide, `hidden` - 1 more, and a zero-initialised 3x3 head, as `MixturePrior`'s context
net. It trains with Adam (cosine decay from 1e-3) on batches of 16 random 8x8 crops (even offsets) of the
last latents of the whole training photographs; bits are measured on the whole validation photographs.
One seed: a screen for choosing a design, not a result.

Writes results/idf_last_context_<model>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_last_context.py idf-gray --runs "checkerboard x channel halves:64:1"
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402

PATTERNS = {"checkerboard": 2, "checkerboard x channel halves": 4, "2x2 phases x channel halves": 8}
CROP, BATCH = 8, 16


def stages(pattern, h, w, channels):
    """The coding stage of every value of a last latent (1, h, w, channels), float32."""
    i, j = np.arange(h)[:, None], np.arange(w)[None, :]
    second = (np.arange(channels) >= channels // 2).astype(int)
    if pattern == "checkerboard":
        s = ((i + j) % 2)[..., None] + 0 * second
    elif pattern == "checkerboard x channel halves":
        s = 2 * ((i + j) % 2)[..., None] + second
    else:
        s = 2 * np.array([[0, 2], [3, 1]])[i % 2, j % 2][..., None] + second
    return s[None].astype(np.float32)


class StagedPrior:
    """The published last prior for stage 0, a context net's logistic for every later stage."""

    def __init__(self, flow, pattern, width, hidden):
        import keras

        self.mixture = flow.prior.params()
        self.pattern, self.count = pattern, PATTERNS[pattern]
        self.channels = flow.prior.means.shape[0]
        inputs = keras.Input((None, None, 3 * self.channels))
        h = inputs
        for _ in range(hidden):
            h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(h)
        head = keras.layers.Conv2D(2 * self.channels, 3, padding="same", kernel_initializer="zeros")(h)
        self.net = keras.Model(inputs, head)

    def bits(self, z, stage_map):
        from keras import ops

        from zoo.idf.distributions import discretized_logistic_logp, mixture_discretized_logistic_logp
        from zoo.idf.layers import SCALE, SplitPrior

        logp = ops.where(stage_map == 0, mixture_discretized_logistic_logp(z, *self.mixture), 0.0)
        for stage in range(1, self.count):
            seen = ops.broadcast_to(stage_map < stage, ops.shape(z))
            values = ops.where(seen, z / SCALE, 0.0)
            out = self.net(ops.concatenate([values, ops.abs(values), ops.cast(seen, "float32")], axis=-1))
            coded = discretized_logistic_logp(z, *SplitPrior.params_of(out))
            logp += ops.where(stage_map == stage, coded, 0.0)
        return -ops.sum(logp) / math.log(2.0)


def fit(prior, train, steps, seed=0):
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.05))
    stage_map = stages(prior.pattern, CROP, CROP, prior.channels)

    @tf.function
    def step(z):
        with tf.GradientTape() as tape:
            loss = prior.bits(z, stage_map) / tf.cast(tf.size(z), tf.float32)
        optimizer.apply_gradients(zip(tape.gradient(loss, prior.net.trainable_weights), prior.net.trainable_weights))

    rng = np.random.default_rng(seed)
    large = [z for z in train if min(z.shape[:2]) >= CROP]
    for _ in tqdm(range(steps), desc=prior.pattern, mininterval=10):
        crops = []
        for _ in range(BATCH):
            z = large[rng.integers(len(large))]
            i = 2 * rng.integers((z.shape[0] - CROP) // 2 + 1)
            j = 2 * rng.integers((z.shape[1] - CROP) // 2 + 1)
            crops.append(z[i : i + CROP, j : j + CROP])
        step(np.stack(crops))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="idf-photos")
    parser.add_argument("--runs", nargs="+", default=["checkerboard:64:1", "checkerboard x channel halves:64:1"],
                        help="pattern:width:hidden, one per net to fit")
    parser.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    import zoo
    from zoo import data
    from zoo.idf.distributions import mixture_discretized_logistic_logp

    keras.utils.set_random_seed(0)
    flow = zoo.load(args.model)
    mode = "L" if flow.image_shape[-1] == 1 else "RGB"
    last = tf.function(lambda x: flow.flow(x)[1], reduce_retracing=True)

    def latents(part):
        files = data.photo_files("train", part)
        return [np.asarray(last(image[None]), np.float32)[0]
                for image, _ in data.photo_images(files, mode, 2**flow.levels).as_numpy_iterator()]

    train, validation = latents("train"), latents("validation")
    share = validation[0].shape[-1] / (flow.image_shape[-1] * 4**flow.levels)  # of the image's dimensions
    own = sum(z.size for z in validation)
    rows = []
    base = -sum(float(np.sum(mixture_discretized_logistic_logp(z, *flow.prior.params()))) for z in validation)
    base /= own * math.log(2.0)
    rows.append(["none (the published mixture)", "", "", 1, f"{base:.4f}", "+0.00%", "+0.0000"])
    for run in args.runs:
        pattern, width, hidden = run.split(":")
        prior = StagedPrior(flow, pattern, int(width), int(hidden))
        fit(prior, train, args.steps)
        bits = sum(float(prior.bits(z[None], stages(pattern, *z.shape))) for z in validation) / own
        rows.append([pattern, width, hidden, PATTERNS[pattern], f"{bits:.4f}", f"{100 * (bits / base - 1):+.2f}%",
                     f"{share * (bits - base):+.4f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["pattern", "width", "hidden convolutions", "stages", "validation bits per own dimension",
                            "change", "change in bits per image dimension"], rows)
    print(table)
    write_results(f"idf_last_context_{args.model}", f"{args.model}: context in its last prior, the flow fixed, "
                  f"{args.steps} steps on the training photographs' last latents, validation photographs", table)


if __name__ == "__main__":
    main()
