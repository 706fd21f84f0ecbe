"""The learning-rate schedule and the optimizer's parameter groups."""

from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate

from tpir.optim import configure_optimization, warmup_cosine


def _rates(schedule, steps: int) -> list[list[float]]:
    rates = []
    for _ in range(steps):
        rates.append(schedule.get_last_lr())
        schedule.optimizer.step()
        schedule.step()
    return rates


def test_a_held_group_is_warmed_up_then_kept_while_the_others_decay_to_zero() -> None:
    decayed, held = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW(
        [{"params": [decayed]}, {"params": [held], "lr": 3e-3, "held": True}], lr=1e-3
    )
    rates = _rates(warmup_cosine(optimizer, total_steps=20, warmup_steps=4), 21)
    assert rates[0] == pytest.approx([1e-3 / 5, 3e-3 / 5])  # the same warm-up for both
    assert rates[4] == pytest.approx([1e-3, 3e-3])
    assert rates[12][0] == pytest.approx(0.5e-3, rel=0.01) and rates[12][1] == pytest.approx(3e-3)
    assert rates[20] == pytest.approx([0.0, 3e-3], abs=1e-12)


def test_parameter_groups_leave_out_frozen_weights_and_keep_their_own_rates() -> None:
    trained, frozen, other = (torch.nn.Parameter(torch.zeros(1)) for _ in range(3))
    frozen.requires_grad_(False)
    built = configure_optimization(
        [{"params": [trained, frozen]}, {"params": [other], "lr": 0.5}],
        lambda params: torch.optim.SGD(params, lr=0.1),
        None,
        total_steps=10,
    )
    assert [group["params"] for group in built.param_groups] == [[trained], [other]]
    assert [group["lr"] for group in built.param_groups] == [0.1, 0.5]


def test_a_composite_run_trains_its_estimator_at_a_held_rate_of_its_own(
    compose_config, small_restore_run
) -> None:
    cfg = compose_config(*small_restore_run, "degradation=composite")
    module = instantiate(cfg.module)
    module.trainer = SimpleNamespace(estimated_stepping_batches=100)
    optimization = module.configure_optimizers()
    rest, estimator = optimization["optimizer"].param_groups
    assert {id(p) for p in estimator["params"]} == {id(p) for p in module.model.estimator.parameters()}
    assert estimator["initial_lr"] == cfg.module.estimator_lr == 3e-3 and estimator["held"]
    assert rest["initial_lr"] == cfg.module.optimizer.lr and not rest.get("held")
    assert len(rest["params"]) == len([p for p in module.parameters() if p.requires_grad]) - len(
        estimator["params"]
    )
