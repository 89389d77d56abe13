"""From a trained probabilistic binary network to deterministic binary networks: MAP, ternary, sampled,
and anytime ensembles of sampled networks.

`to_binary` returns a plain Keras model: `Conv2D` / `Dense` kernels that hold
exactly -1 and +1 (and 0 for "ternary"), max pools, and each batch norm folded
with the sign that follows it into a per-channel threshold and sign: for
z = gamma (a - mu) / sigma + beta, sign(z) = sign(s (a - tau)) with
s = sign(gamma), tau = mu - beta sigma / gamma. Without a pool in between, s
and -s tau go into the kernel and bias; after a pool they are a 1x1
`DepthwiseConv2D` (multiplier s in {-1, +1}, bias -s tau). The output layer
keeps its batch norm (an affine map per class) before the output head.

For int8 deployment, `zero_one_form` rewrites a binary network so that
every binary layer reads activations b = (s + 1) / 2 in {0, 1} instead of s
in {-1, +1} (same function, same +-1 kernels): a dense layer uses
W s = 2 W b - sum(W), folded into its threshold; a "same" convolution, whose
zero padding is not a {-1, +1} value, reads [b, 1 - b] with kernel [W, -W].
{0, 1} is exact under any int8 activation quantization (symmetric or
asymmetric), {-1, +1} is not under the asymmetric one LiteRT's XNNPACK uses, so
the dynamic-range-quantized file computes exactly what Keras does.

Batch-norm statistics: with `data`, they are re-estimated for the binary
network itself, layer by layer, on `batches` batches of training images (the
paper finds 20 enough); without it the stochastic network's moving averages
are used.

Example:
    >>> from zoo import blrnet
    >>> binary = blrnet.to_binary(zoo.load("blrnet-mnist"), mode="map", data=train_images)
    >>> binary.save("binary.keras")                                  # plain layers (and `Sign`)
    >>> ens = blrnet.ensemble(zoo.load("blrnet-mnist"), k=16, data=train_images)
    >>> u = blrnet.predictive_uncertainty(ens, test_images)           # probs, entropy, top-class variance
    >>> zoo.export.to_litert(blrnet.zero_one_form(binary), "b.tflite", samples=x, int8_weights=True)
"""

import keras
import numpy as np
from keras import ops

from zoo.blrnet.baselines import sign
from zoo.blrnet.heads import SigmoidProbabilities
from zoo.blrnet.layers import (
    Mean,
    StochasticBatchNormalization,
    StochasticBinarization,
    StochasticBinaryConv2D,
    StochasticBinaryDense,
    StochasticMaxPooling2D,
)

MODES = ("map", "ternary", "sample")


@keras.saving.register_keras_serializable(package="zoo.blrnet")
class Sign(keras.layers.Layer):
    """+1 where x >= 0, else -1: the binary activation of a deployed network."""

    def call(self, x):
        return sign(x)


@keras.saving.register_keras_serializable(package="zoo.blrnet")
class Step(keras.layers.Layer):
    """1 where x >= 0, else 0: `(Sign + 1) / 2`, the {0, 1} activation of `zero_one_form`."""

    def call(self, x):
        return ops.cast(x >= 0, x.dtype)


@keras.saving.register_keras_serializable(package="zoo.blrnet")
class WithComplement(keras.layers.Layer):
    """b -> [b, 1 - b] on the channel axis: a {0, 1} map and its complement."""

    def call(self, b):
        return ops.concatenate([b, 1.0 - b], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])


def binary_weights(theta, mode, rng=None, ternary_threshold=0.5):
    """Deterministic weights from theta = E[w]: "map" sign(theta) (+1 at 0); "ternary" also 0 where
    |theta| < ternary_threshold (P(w = +1) within 0.25 of a coin flip at 0.5); "sample" w ~ P(w | theta)."""
    theta = np.asarray(theta, dtype="float32")
    if mode == "map":
        return np.where(theta >= 0, 1.0, -1.0).astype("float32")
    if mode == "ternary":
        return np.where(np.abs(theta) < ternary_threshold, 0.0, np.where(theta >= 0, 1.0, -1.0)).astype("float32")
    if mode == "sample":
        return np.where(rng.random(theta.shape) < (1 + theta) / 2, 1.0, -1.0).astype("float32")
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _batches(data, batches, batch_size=100):
    """Up to `batches` uint8 image batches from an array, an iterable of arrays or of (images, labels)."""
    items = data
    if isinstance(data, np.ndarray):
        items = (data[i:i + batch_size] for i in range(0, len(data), batch_size))
    out = []
    for item in items:
        images = item[0] if isinstance(item, (tuple, list)) else item
        out.append(np.asarray(images))
        if len(out) == batches:
            break
    if not out:
        raise ValueError("data holds no images to estimate batch-norm statistics on")
    return out


def _unfolded(model, mode, seed, ternary_threshold):
    """The binary network with standard `BatchNormalization` layers (before folding), and the plan to fold it."""
    rng = np.random.default_rng(seed)
    images = keras.Input(model.input.shape[1:], dtype=model.input.dtype, name="images")
    x, plan, weights = images, [], {}
    for layer in model.layers[1:]:
        if isinstance(layer, (StochasticBinaryConv2D, StochasticBinaryDense)):
            w = binary_weights(layer.theta.numpy(), mode, rng, ternary_threshold)
            plain = (keras.layers.Conv2D(layer.filters, layer.kernel_size, padding="same", use_bias=False, name=layer.name)
                     if isinstance(layer, StochasticBinaryConv2D) else keras.layers.Dense(layer.units, use_bias=False, name=layer.name))
            x = plain(x)
            weights[layer.name] = [w]
            plan.append(["linear", layer.name])
        elif isinstance(layer, StochasticMaxPooling2D):
            x = keras.layers.MaxPooling2D(layer.pool_size, name=layer.name)(x)
            plan.append(["pool", layer.name])
        elif isinstance(layer, StochasticBatchNormalization):
            x = keras.layers.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon, name=layer.name)(x)
            weights[layer.name] = [v.numpy() for v in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)]
            plan.append(["bn", layer.name])
        elif isinstance(layer, StochasticBinarization):
            x = Sign(name=layer.name)(x)
            plan.append(["sign", layer.name])
        elif isinstance(layer, Mean):
            continue
        elif isinstance(layer, (keras.layers.Rescaling, keras.layers.Flatten, keras.layers.Activation,
                                SigmoidProbabilities)):
            x = layer.__class__.from_config(layer.get_config())(x)
            plan.append(["copy", layer.name])
        else:
            raise ValueError(f"to_binary does not know layer {layer.name!r} ({type(layer).__name__}); "
                             "it takes the networks of zoo.blrnet.binary_vgg(kind='pbnet')")
    net = keras.Model(images, x, name=f"{model.name}_{mode}")
    for name, values in weights.items():
        net.get_layer(name).set_weights(values)
    return net, plan


def reestimate_batch_norm(net, data, batches=20):
    """Set every `BatchNormalization` of `net` to the statistics of its input over `batches` batches of
    `data` (as `to_binary` takes it), first layer first; returns `net`. Also for the straight-through BNN,
    whose moving averages lag its binary activations."""
    _reestimate(net, _batches(data, batches))
    return net


def _reestimate(net, images):
    """Set every BatchNormalization's statistics to those of its input over `images`, first layer first."""
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            probe = keras.Model(net.input, layer.input)
            outputs = [probe(batch, training=False) for batch in images]
            flat = np.concatenate([ops.convert_to_numpy(o).reshape(-1, o.shape[-1]) for o in outputs], axis=0)
            layer.moving_mean.assign(flat.mean(axis=0))
            layer.moving_variance.assign(flat.var(axis=0))


def _fold(net, plan):
    """Fold each batch norm + sign into thresholds and signs (see the module docstring)."""
    images = keras.Input(net.input.shape[1:], dtype=net.input.dtype, name="images")
    x = images
    i = 0
    while i < len(plan):
        kind, name = plan[i]
        layer = net.get_layer(name)
        if kind == "copy":
            x = layer.__class__.from_config(layer.get_config())(x)
            i += 1
            continue
        if kind != "linear":
            raise AssertionError(f"unexpected {kind} at {name}")
        pooled = plan[i + 1][0] == "pool"
        bn = net.get_layer(plan[i + 1 + pooled][1])
        has_sign = i + 2 + pooled < len(plan) and plan[i + 2 + pooled][0] == "sign"
        kernel = layer.get_weights()[0]
        gamma, beta, mu, var = (v.numpy() for v in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
        if not has_sign:  # the output layer keeps its batch norm
            linear, norm = layer.__class__.from_config(layer.get_config()), bn.__class__.from_config(bn.get_config())
            x = norm(linear(x))
            linear.set_weights([kernel])
            norm.set_weights(bn.get_weights())
            i += 2
            continue
        sigma = np.sqrt(var + bn.epsilon)
        s = np.where(gamma >= 0, 1.0, -1.0).astype("float32")
        gamma = np.where(np.abs(gamma) < 1e-12, 1e-12, gamma)
        tau = mu - beta * sigma / gamma
        config = {**layer.get_config(), "use_bias": not pooled}
        linear = layer.__class__.from_config(config)
        x = linear(x)
        if pooled:
            linear.set_weights([kernel])
            x = keras.layers.MaxPooling2D(net.get_layer(plan[i + 1][1]).pool_size, name=plan[i + 1][1])(x)
            threshold = keras.layers.DepthwiseConv2D(1, name=f"{bn.name}_threshold")
            x = threshold(x)
            threshold.set_weights([s.reshape(1, 1, -1, 1), (-s * tau).astype("float32")])
        else:
            linear.set_weights([kernel * s, (-s * tau).astype("float32")])
        x = Sign(name=plan[i + 2 + pooled][1])(x)
        i += 3 + pooled
    return keras.Model(images, x, name=net.name)


def to_binary(model, mode="map", seed=0, data=None, batches=20, ternary_threshold=0.5):
    """A deterministic binary network from a trained PBNet `model` (see the module docstring).

    `mode`: "map" (sign of theta), "ternary" (0 where |theta| < `ternary_threshold`)
    or "sample" (weights drawn from their distribution with `seed`). `data`:
    training images (an array, or an iterable of arrays or (images, labels)) to
    re-estimate the batch-norm statistics on, `batches` batches of 100 of them.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    net, plan = _unfolded(model, mode, seed, ternary_threshold)
    if data is not None:
        _reestimate(net, _batches(data, batches))
    return _fold(net, plan)


def zero_one_form(net):
    """`net` (from `to_binary`) with {0, 1} activations into every binary layer: the same outputs, the same
    +-1 kernels (see the module docstring)."""
    images = keras.Input(net.input.shape[1:], dtype=net.input.dtype, name="images")
    x, binary_input, pending_shift = images, False, None
    for layer in net.layers[1:]:
        config = layer.get_config()
        weights = layer.get_weights()
        if isinstance(layer, Sign):
            x, binary_input = Step(name=layer.name)(x), True
            continue
        if binary_input and type(layer) is keras.layers.Conv2D:
            x = WithComplement(name=f"{layer.name}_complement")(x)
            weights[0] = np.concatenate([weights[0], -weights[0]], axis=2)
        elif binary_input and type(layer) is keras.layers.Dense:
            kernel, *bias = weights
            shift = kernel.sum(axis=0)  # W s = 2 (W b) - sum(W); a threshold only needs W b - (sum(W) - bias) / 2
            if bias:
                weights = [kernel, (bias[0] - shift) / 2]
            else:
                pending_shift = shift  # the output layer: into its batch norm
        elif isinstance(layer, keras.layers.BatchNormalization) and pending_shift is not None:
            gamma, beta, mean, var = weights  # BN(2 y - c) = BN'(y) with gamma' = 2 gamma, mean' = (mean + c) / 2
            weights, pending_shift = [2 * gamma, beta, (mean + pending_shift) / 2, var], None
        elif not isinstance(layer, (keras.layers.Flatten, keras.layers.MaxPooling2D, keras.layers.Rescaling,
                                    keras.layers.DepthwiseConv2D, keras.layers.Activation, SigmoidProbabilities,
                                    keras.layers.Conv2D, keras.layers.Dense, keras.layers.BatchNormalization)):
            raise ValueError(f"zero_one_form takes the networks of to_binary; it does not know {layer.name!r}")
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and not isinstance(layer, keras.layers.DepthwiseConv2D):
            binary_input = False
        copy = layer.__class__.from_config(config)
        x = copy(x)
        copy.set_weights(weights)
    return keras.Model(images, x, name=f"{net.name}_01")


def ensemble(model, k, data, seed=0, batches=20):
    """K sampled binary networks (seeds `seed` .. `seed + k - 1`), each with its batch norm re-estimated on
    `data`, as one Keras model: uint8 images in, the members' mean probabilities out.

    Any prefix of the members is itself an ensemble ("anytime"): `ensemble(model, 2, ...)` equals the first
    two members of `ensemble(model, 16, ...)`.
    """
    if k < 1:
        raise ValueError(f"an ensemble needs k >= 1 members, got {k}")
    images_batches = _batches(data, batches)
    members = []
    for i in range(k):
        member = to_binary(model, "sample", seed=seed + i, data=images_batches)
        members.append(keras.Model(member.input, member.output, name=f"member{i}"))
    images = keras.Input(model.input.shape[1:], dtype=model.input.dtype, name="images")
    outputs = [m(images) for m in members]
    mean = outputs[0] if k == 1 else keras.layers.Average(name="mean_probs")(outputs)
    return keras.Model(images, mean, name=f"{model.name}_ensemble{k}")


def members(ensemble_model):
    """The member networks of an `ensemble` model."""
    return [layer for layer in ensemble_model.layers if isinstance(layer, keras.Model)]


def predictive_uncertainty(ensemble_model, images, batch_size=500):
    """`{"probs", "entropy", "top_class_variance", "member_probs"}` of an `ensemble` on `images`.

    entropy: of the mean probabilities (nats). top_class_variance: the variance
    across members of the probability they give the ensemble's top class.
    """
    per_member = np.stack([m.predict(images, batch_size=batch_size, verbose=0) for m in members(ensemble_model)])
    probs = per_member.mean(axis=0)
    entropy = -np.sum(probs * np.log(np.clip(probs, 1e-12, 1.0)), axis=-1)
    top = probs.argmax(axis=-1)
    top_probs = np.take_along_axis(per_member, top[None, :, None], axis=-1)[..., 0]
    return {"probs": probs, "entropy": entropy, "top_class_variance": top_probs.var(axis=0), "member_probs": per_member}
