"""Would the split priors' context save more in more coding stages? The flow and the published
context nets' starting point fixed, each split prior's context net is fitted again to the training
photographs' latents (`zoo.idf.recipes.fit_context_priors`, its steps and crops), coding its latent in
- 2 stages: the checkerboard's anchors, then the other positions (the published flows);
- 4 stages: the anchors' first half of the channels, their second half, then the others' two halves
  (`zoo.idf.layers.coding_stages`);
- 8 stages: the four positions of each 2x2 block in turn, each in two halves of the channels.
All start from the published nets (their inputs are the same for any count), so the row of the published
count shows what the extra steps alone give. Bits are measured on the whole validation photographs, per image dimension, for
each split and their sum (the last latent is not refitted and not counted). One seed: a screen for
choosing a design, not a result.

Writes results/idf_split_stages_<model>.md.

Usage:
    ZOO_DATA_DIR=../shared/data/tfds python benchmarks/idf_split_stages.py idf-photos --steps 2000
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_file import markdown_table, write_results  # noqa: E402


def split_bits(flow, latents, dims):
    """Bits per image dimension of each split's latent, on whole images' (kept, y, mean, log_scale)."""
    import tensorflow as tf

    bits = []
    for prior, images in zip(flow.split_priors, latents):
        log_prob = tf.function(prior.log_prob, reduce_retracing=True)
        total = sum(-float(log_prob(kept[None], y[None])[0]) for kept, y, _, _ in images)
        bits.append(total / (dims * math.log(2.0)))
    return bits


def with_stages(flow, stages):
    """A copy of `flow` whose split priors code in `stages` stages, with all its weights."""
    from zoo.idf.model import IntegerDiscreteFlow

    copy = IntegerDiscreteFlow.from_config({**flow.get_config(), "context_stages": stages})
    copy.set_weights(flow.get_weights())
    return copy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="idf-photos")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--stages", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args(argv)
    import keras

    import zoo
    from zoo import registry
    from zoo.idf.recipes import fit_context_priors, split_latents

    keras.utils.set_random_seed(0)
    published = zoo.load(args.model)
    recipe = registry.spec(args.model).recipe
    files = recipe._files(recipe.validation_split)

    def measure(flow):
        latents, _, dims = split_latents(flow, files, recipe.mode, recipe.validation_multiple)
        return split_bits(flow, latents, dims)

    base = measure(published)
    rows = [[f"published ({published.context_stages}, as fitted)", "", *(f"{b:.4f}" for b in base), f"{sum(base):.4f}",
             "+0.0000"]]
    for stages in args.stages:
        flow = with_stages(published, stages)
        fit_context_priors(flow, recipe, steps=args.steps, last_steps=0)
        bits = measure(flow)
        rows.append([str(stages), str(args.steps), *(f"{b:.4f}" for b in bits), f"{sum(bits):.4f}",
                     f"{sum(bits) - sum(base):+.4f}"])
        print(rows[-1], flush=True)
    header = ["stages", "steps", *(f"split {i + 1}" for i in range(len(base))), "all splits", "change"]
    table = markdown_table(header, rows)
    print(table)
    write_results(f"idf_split_stages_{args.model}", f"{args.model}: its split priors' context in more coding "
                  "stages, nets refitted from the published ones, validation photographs, bits per image dimension",
                  table)


if __name__ == "__main__":
    main()
