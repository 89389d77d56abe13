"""The idf-cifar10 recipe's learning-rate schedule: warm up, then cosine over the run it is made for."""

import pytest

from zoo.idf.recipes import CIFAR10_RECIPE, warmup_cosine


def _rate(optimizer, step):
    return float(optimizer._learning_rate(step))


@pytest.mark.parametrize("total_steps, warmup", [(32_802, 1000), (50, 5)])
def test_warmup_then_cosine_to_five_percent(total_steps, warmup):
    optimizer = warmup_cosine(total_steps, peak=1e-3)
    assert _rate(optimizer, 0) == 0.0
    assert _rate(optimizer, warmup // 2) == pytest.approx(1e-3 * (warmup // 2) / warmup, rel=1e-3)  # linear warm-up
    assert _rate(optimizer, warmup) == pytest.approx(1e-3)  # a tenth of the run at most
    assert _rate(optimizer, total_steps) == pytest.approx(5e-5)  # the decay ends with the run


def test_the_recipe_uses_the_warmup_schedule():
    assert _rate(CIFAR10_RECIPE.optimizer(10_000), 1000) == pytest.approx(1e-3)
