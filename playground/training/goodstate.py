"""The last good state of a run: a device-side copy of every tensor training changes, taken at
each finite log, so a run that turns NaN/inf can be put back as it was."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def optimizer_params(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimiser's parameters in a fixed order (its groups, then each group's order)."""
    return [p for group in opt.param_groups for p in group["params"]]


@dataclass
class GoodState:
    step: int
    layout: tuple
    tensors: list[torch.Tensor]


def state_tensors(
    modules: Sequence[torch.nn.Module | None], opts: Sequence[torch.optim.Optimizer]
) -> tuple[list[torch.Tensor], tuple]:
    """Every tensor training changes (weights, buffers, optimiser state), in a fixed order,
    and a layout naming each optimiser entry (optimiser, parameter position, key)."""
    tensors = [
        t
        for module in modules
        if module is not None
        for t in module.state_dict().values()  # detached views of the live storage
    ]
    layout: list = [len(tensors)]
    for which, opt in enumerate(opts):
        position = {p: i for i, p in enumerate(optimizer_params(opt))}
        for param, state in opt.state.items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    tensors.append(value)
                    layout.append((which, position[param], key))
    return tensors, tuple(layout)


@torch.no_grad()
def keep(
    good: GoodState | None,
    step: int,
    modules: Sequence[torch.nn.Module | None],
    opts: Sequence[torch.optim.Optimizer],
) -> GoodState:
    """Copy the current state into `good`'s tensors (new ones when the layout changed). One
    device-side copy per `log_every` steps, no host sync (a few ms on a CPU for a 3M-parameter
    DCGAN and its Adam state; a fraction of a ms on a GPU)."""
    tensors, layout = state_tensors(modules, opts)
    if good is None or good.layout != layout:
        return GoodState(step, layout, [t.detach().clone() for t in tensors])
    torch._foreach_copy_(good.tensors, tensors)
    good.step = step
    return good


@torch.no_grad()
def restore(
    good: GoodState,
    modules: Sequence[torch.nn.Module | None],
    opts: Sequence[torch.optim.Optimizer],
    on_new_state: Callable[[], None],
) -> int:
    """Put the modules and optimisers back to `good`; returns its step. `on_new_state` runs
    before the optimisers' state tensors are replaced (they gained state since `good` was
    taken, at their first step), e.g. to drop a captured step that would miss them."""
    tensors, layout = state_tensors(modules, opts)
    if layout == good.layout:
        torch._foreach_copy_(tensors, good.tensors)
        return good.step
    n = good.layout[0]
    torch._foreach_copy_(tensors[:n], good.tensors[:n])
    on_new_state()
    for opt in opts:
        opt.state.clear()
    for (which, index, key), value in zip(good.layout[1:], good.tensors[n:], strict=True):
        param = optimizer_params(opts[which])[index]
        opts[which].state[param][key] = value.clone()
    return good.step
