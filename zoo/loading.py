"""`zoo.load`: a model by name, with or without its pretrained weights."""

from zoo import checkpoint, hub, registry
from zoo.errors import ZooError


def load(name, pretrained=True, weights_dir=None, **overrides):
    """Build the model `name`; with `pretrained=True`, load its pinned, verified weights.

    `overrides` are passed to the model's builder. With pretrained weights they
    may change only what leaves the weights' shapes intact.

    Example:
        >>> import zoo
        >>> model = zoo.load("cnn-small-mnist")                     # pretrained
        >>> fresh = zoo.load("cnn-small-mnist", pretrained=False)   # architecture only
    """
    spec = registry.spec(name)
    if not pretrained:
        return spec.builder(**overrides)
    ckpt = hub.fetch(name, weights_dir)
    config, weights = ckpt.files[checkpoint.CONFIG], ckpt.files[checkpoint.WEIGHTS]
    if not overrides:
        return checkpoint.load(config, weights)
    model = spec.builder(**overrides)
    try:
        model.load_weights(weights)
    except ValueError as e:
        raise ZooError(
            f"The pretrained weights of '{name}' do not fit the model built with {overrides} ({e}). "
            "Use pretrained=False to train from scratch, or load the pretrained model and replace its layers."
        ) from None
    return model
