"""Registered binary networks on MNIST and CIFAR-10, and how each is trained.

Three kinds per data set at one architecture and one budget (epochs, batch,
Adam with cosine decay, seed; each kind's peak learning rate chosen on the
validation split): `blrnet-fp-*` (full precision, trained first), `blrnet-ste-*` (straight-through BNN) and `blrnet-*` (PBNet-S: sampled
binary activations), the last two initialized from the published FP network
(theta = clip(w / std(w of the layer), -0.9, 0.9)), as the paper's best
CIFAR-10 run. A PBNet is selected and reported by the accuracy of its MAP
binary network (sign of theta, batch norm re-estimated on the first 20 batches
of 100 training images): what a user deploys.

The CIFAR-10 stack is Hubara et al.'s 2x128C3-MP2-2x256C3-MP2-2x512C3-MP2-1024FC-1024FC
at a quarter of the widths, so that each training fits the CPU budget; MNIST
takes its first two blocks at the same widths and one hidden layer.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.blrnet.deploy import to_binary
from zoo.blrnet.heads import training_head
from zoo.blrnet.layers import StochasticBatchNormalization, StochasticBinaryConv2D, StochasticBinaryDense
from zoo.blrnet.models import binary_vgg
from zoo.registry import register
from zoo.training import Recipe

PAPER = 'J. W. T. Peters, M. Welling. "Probabilistic Binary Neural Networks." arXiv:1809.03368, 2018.'

ARCHITECTURES = {
    "mnist": {"input_shape": (28, 28, 1), "blocks": ((32, 32), (64, 64)), "hidden": (256,)},
    "cifar10": {"input_shape": (32, 32, 3), "blocks": ((32, 32), (64, 64), (128, 128)), "hidden": (256, 256)},
}
BN_BATCHES, BN_BATCH_SIZE = 20, 100


def init_theta(weights):
    """theta of a binary layer from a trained real kernel: w / std(w), clipped to [-0.9, 0.9]."""
    return np.clip(weights / weights.std(), -0.9, 0.9).astype("float32")


def _initialize_from(fp_name):
    def initialize(model):
        import zoo
        from zoo import hub

        fp = zoo.load(fp_name)
        for layer in model.layers:
            if isinstance(layer, (StochasticBinaryConv2D, StochasticBinaryDense)):
                layer.theta.assign(init_theta(fp.get_layer(layer.name).get_weights()[0]))
            elif isinstance(layer, StochasticBatchNormalization):
                gamma, beta, *_ = fp.get_layer(layer.name).get_weights()
                layer.gamma.assign(gamma)
                layer.beta.assign(beta)
            elif layer.name.startswith(("conv", "dense")):  # the BNN's latent kernels
                layer.set_weights([init_theta(fp.get_layer(layer.name).get_weights()[0])])
            elif isinstance(layer, keras.layers.BatchNormalization):
                layer.set_weights(fp.get_layer(layer.name).get_weights())
        files = hub.fetch(fp_name).files
        from zoo import manifest

        return {"model": fp_name, "weights_sha256": manifest.sha256(files["model.weights.h5"])}

    return initialize


def bn_images(recipe, data_dir=None):
    """The images batch norms are re-estimated on: the first 20 batches of 100 of the training split."""
    ds = recipe.load(recipe.train_split, data_dir).take(BN_BATCHES * BN_BATCH_SIZE).batch(BN_BATCH_SIZE)
    return [images.numpy() for images, _ in ds]


def map_accuracy(model, recipe, split, data_dir=None, skip=()):
    """Accuracy of the MAP binary network of a PBNet on `split`, and of the stochastic network's mean (also
    when in `skip`: Keras's validation accuracy is the fitted head's)."""
    binary = to_binary(model, "map", data=bn_images(recipe, data_dir))
    return accuracies({"map_accuracy": binary, "accuracy": model}, recipe, split, data_dir)


def accuracies(nets, recipe, split, data_dir=None):
    """{key: accuracy on `split`} of each network of `nets` ({key: network}), all on the same batches."""
    correct, total = dict.fromkeys(nets, 0), 0
    for images, labels in recipe.pipeline(split, 500, training=False, data_dir=data_dir):
        labels = labels.numpy()
        for key, net in nets.items():
            correct[key] += int((net(images, training=False).numpy().argmax(-1) == labels).sum())
        total += len(labels)
    return {key: count / total for key, count in correct.items()}


def _recipe(dataset, kind, epochs):
    pbnet = kind == "pbnet"
    return Recipe(
        paper=PAPER,
        dataset=dataset,
        epochs=epochs,
        batch_size=100,
        loss="sparse_categorical_crossentropy",
        training_head=training_head,  # a sigmoid head (--set head=sigmoid) trains on its logits, per-class BCE
        metric="map_accuracy" if pbnet else "accuracy",
        optimizer=lambda steps: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATES[dataset][kind], steps, alpha=0.01)),
        augment=_flip_and_translate if dataset == "cifar10" else None,
        initialize=None if kind == "fp" else _initialize_from(f"blrnet-fp-{dataset}"),
        evaluator=map_accuracy if pbnet else None,
    )


def _flip_and_translate(image, label):
    image = tf.image.random_flip_left_right(image)
    padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]], mode="REFLECT")
    return tf.image.random_crop(padded, (32, 32, 3)), label


EPOCHS = {"mnist": 10, "cifar10": 30}
# peak learning rates, chosen per data set and kind on the validation split by benchmarks/lr_probe.py
# (results/lr_*.md): theta lives in [-1, 1] and the binary nets' latent weights are clipped there too, so they
# move far faster than a real network's weights (the FPNets keep Adam's 1e-3)
LEARNING_RATES = {
    "mnist": {"fp": 1e-3, "ste": 1e-1, "pbnet": 1e-1},
    "cifar10": {"fp": 1e-3, "ste": 3e-2, "pbnet": 3e-2},
}
_TITLES = {
    "pbnet": "Probabilistic binary network (PBNet-S): binary weights and activations, trained through their distributions",
    "fp": "Full-precision twin of the binary networks (FPNet; real weights, hard tanh), their initializer",
    "ste": "Binary network trained with the straight-through sign estimator (BNN, Hubara et al. 2016)",
}


def _register(dataset, kind):
    name = f"blrnet-{dataset}" if kind == "pbnet" else f"blrnet-{kind}-{dataset}"
    arch = ARCHITECTURES[dataset]

    def build(**overrides):
        kwargs = {**arch, "num_classes": 10, **overrides}
        return binary_vgg(kind, name=name.replace("-", "_"), **kwargs)

    build.__doc__ = f"{_TITLES[kind]}; {dataset} (uint8 in, class probabilities out)."
    register(name, recipe=_recipe(dataset, kind, EPOCHS[dataset]))(build)


for _dataset in ARCHITECTURES:
    for _kind in ("fp", "ste", "pbnet"):
        _register(_dataset, _kind)
