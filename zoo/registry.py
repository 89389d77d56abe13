"""The catalogue: every model the zoo can build, by name.

A paper's subpackage registers its builders::

    @register("cnn-small-mnist", recipe=MNIST_RECIPE)
    def cnn_small_mnist(num_classes=10):
        '''A 3-layer CNN for 28x28 digits.'''
        ...

Names are `family[-variant]-dataset`, lower case (`idf-cifar10`,
`hexaconv-p6-aid`). The first line of the builder's docstring is the model's
one-line description.

Example:
    >>> import zoo
    >>> zoo.list_models("cnn-*")
    ['cnn-small-mnist']
"""

import dataclasses
import difflib
import fnmatch
import functools
import json
import re
from typing import Any, Callable

from zoo import manifest
from zoo.errors import UnknownModelError

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)+")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    recipe: Any  # zoo.training.Recipe, or None for a model without a training recipe
    builder_overrides: dict = dataclasses.field(default_factory=dict)  # what `builder` passes on (`zoo train --set`)

    @property
    def description(self):
        doc = (self.builder.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


_REGISTRY: dict[str, ModelSpec] = {}


def register(name, *, recipe=None):
    """Decorator that adds a model builder to the catalogue under `name`."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"Model name {name!r} must look like 'family-variant-dataset' (lower case, dashes)")

    def decorate(builder):
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(name, builder, recipe)
        return builder

    return decorate


def _registered():
    import zoo

    zoo.register_all()
    return _REGISTRY


def list_models(pattern="*", pretrained=False):
    """Sorted names matching a shell-style `pattern`; `pretrained=True` keeps those with a checkpoint."""
    _registered()
    names = sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))
    if pretrained:
        published = manifest.read()
        names = [n for n in names if n in published]
    return names


def spec(name):
    """The `ModelSpec` of `name`; an unknown name raises with the closest names."""
    try:
        return _registered()[name]
    except KeyError:
        scored = sorted(((difflib.SequenceMatcher(None, name, n).ratio(), n) for n in _REGISTRY), reverse=True)
        close = [n for score, n in scored[:5] if score >= 0.4 and score >= scored[0][0] - 0.1]  # the best, and ties
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"Unknown model {name!r}.{hint} `zoo list` shows all {len(_REGISTRY)} models."
        ) from None


def parse_overrides(items, what="override"):
    """["key=value", ...] -> {key: value}: values read as JSON where they parse (numbers, true/false, null),
    as strings otherwise.

    Example:
        >>> parse_overrides(["reconstruction_trains=inverse", "reconstruction_weight=10"])
        {'reconstruction_trains': 'inverse', 'reconstruction_weight': 10}
    """
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: expected key=value, got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def with_builder_overrides(spec, overrides):
    """`spec` whose builder passes `overrides` (builder arguments) on; an argument the builder does not take
    raises TypeError when the model is built."""
    if not overrides:
        return spec

    @functools.wraps(spec.builder)  # keeps the description
    def builder(**more):
        return spec.builder(**{**overrides, **more})

    return dataclasses.replace(spec, builder=builder, builder_overrides={**spec.builder_overrides, **overrides})


def catalogue():
    """`{name: {"description", "dataset", "metric", "higher_is_better"}}` of every registered model: what
    `zoo/catalogue.json` holds, so `zoo list` answers without importing TensorFlow."""
    return {
        name: {
            "description": s.description,
            "dataset": s.recipe.dataset if s.recipe else None,
            "metric": s.recipe.metric if s.recipe else None,
            "higher_is_better": s.recipe.higher_is_better if s.recipe else None,
        }
        for name, s in sorted(_registered().items())
    }


def info(name):
    """What the zoo knows of `name`: description, recipe data set, and its checkpoint's manifest entry.

    Example:
        >>> zoo.info("cnn-small-mnist")["metrics"]
        {'accuracy': ...}
    """
    s = spec(name)
    item = manifest.entry(name) or {}
    return {
        "name": name,
        "description": s.description,
        "dataset": s.recipe.dataset if s.recipe else None,
        "pretrained": bool(item),
        **item,
    }
