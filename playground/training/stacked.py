"""Stacked MLPs: the weights of N same-shaped MLPs on a leading member axis, so every layer of
all N is one batched matrix multiply, `torch.baddbmm(b, x, W)` with x (N, B, in), W (N, in, out),
b (N, 1, out); and what trains them (Adam with one learning rate per member, per-group losses,
per-member gradient norms). multirun.MultiRun is built on these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

Layers = list[tuple[torch.Tensor, torch.Tensor]]  # [(W (N, in, out), b (N, 1, out)), ...]

def mlp_linears(module: nn.Module, activation: type[nn.Module]) -> list[nn.Linear]:
    """The Linear layers of a models.py MLP, checking it is Linear, act, …, Linear as assumed."""
    found = [m for m in module.modules() if isinstance(m, (nn.Linear, activation))]
    linears, acts = found[::2], found[1::2]
    pattern_ok = all(isinstance(m, nn.Linear) for m in linears) and all(
        isinstance(m, activation) and getattr(m, "negative_slope", 0.2) == 0.2 for m in acts
    )
    if not pattern_ok or len(found) % 2 == 0:
        raise NotImplementedError("multirun expects models.py's MLP layout: Linear, act, …, Linear")
    return linears


def stack(modules: list[nn.Module], activation: type[nn.Module], device) -> Layers:
    per_member = [mlp_linears(m, activation) for m in modules]
    layers = []
    for i in range(len(per_member[0])):
        w = torch.stack([lin[i].weight.detach().t() for lin in per_member])  # (N, in, out)
        b = torch.stack([lin[i].bias.detach() for lin in per_member]).unsqueeze(1)  # (N, 1, out)
        layers.append(
            (
                w.contiguous().to(device).requires_grad_(True),
                b.contiguous().to(device).requires_grad_(True),
            )
        )
    return layers


def mlp(x: torch.Tensor, layers: Layers, act: Callable, members: torch.Tensor | None = None):
    """x (N, B, in) through N stacked MLPs (or the `members` subset) -> (N, B, out)."""
    last = len(layers) - 1
    for i, (w, b) in enumerate(layers):
        if members is not None:
            w, b = w.index_select(0, members), b.index_select(0, members)
        x = torch.baddbmm(b, x, w)
        if i < last:
            x = act(x)
    return x


def leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def stacked_params(layers: Layers) -> list[torch.Tensor]:
    return [t for pair in layers for t in pair]


class StackedAdam:
    """Adam (Kingma & Ba 2015) over stacked parameters with one learning rate and one pair of
    betas per member.

    Same update as torch.optim.Adam: m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g²,
    p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε); lr has shape (N,), and betas are a pair
    of floats shared by all members or a pair of N-long sequences, one value per member; each
    broadcasts over its member's slice, so members never mix."""

    def __init__(
        self,
        params: list[torch.Tensor],
        lr: torch.Tensor,
        betas: tuple[float, float] | tuple[Sequence[float], Sequence[float]],
    ):
        self.params, self.lr, self.eps = params, lr, 1e-8
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        # The step count lives on the device, so a step recorded in a CUDA graph counts on; in
        # float64 (where the device has it), as torch's Adam computes its bias corrections.
        exact = torch.float32 if lr.device.type == "mps" else torch.float64
        self.t = torch.zeros((), device=lr.device, dtype=exact)
        n = lr.shape[0]
        # (N, 1, 1) each, in the exact dtype for the bias corrections (built from the Python
        # floats, so 0.9 is torch's 0.9, not a float32 rounding of it).
        self.beta1, self.beta2 = (
            torch.tensor(
                [float(b)] * n if isinstance(b, (int, float)) else [float(x) for x in b],
                device=lr.device,
                dtype=exact,
            ).view(n, 1, 1)
            for b in betas
        )

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        dtype = self.lr.dtype
        k = len(self.params)
        grads = [p.grad for p in self.params]
        torch._foreach_lerp_(self.exp_avg, grads, [(1 - self.beta1).to(dtype)] * k)
        torch._foreach_mul_(self.exp_avg_sq, [self.beta2.to(dtype)] * k)
        squares = torch._foreach_mul(grads, grads)
        torch._foreach_mul_(squares, [(1 - self.beta2).to(dtype)] * k)
        torch._foreach_add_(self.exp_avg_sq, squares)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        bias2 = (1 - torch.pow(self.beta2, self.t)).sqrt().to(dtype)
        torch._foreach_div_(denom, [bias2] * k)
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(self.exp_avg, denom)
        bias1 = 1 - torch.pow(self.beta1, self.t)  # (N, 1, 1)
        step_size = (-self.lr.view(-1, 1, 1) / bias1).to(dtype)
        torch._foreach_mul_(update, [step_size] * k)
        torch._foreach_add_(self.params, update)


class Groups:
    """Members grouped by a key (their loss, say), so that a per-member computation runs once
    per group over the group's stacked rows instead of once per member."""

    def __init__(self, keys: list, device: torch.device):
        members: dict = {}
        for i, key in enumerate(keys):
            members.setdefault(key, []).append(i)
        self.groups = [
            (key, torch.tensor(rows, dtype=torch.long, device=device))
            for key, rows in members.items()
        ]
        order = [i for rows in members.values() for i in rows]
        inverse = sorted(range(len(order)), key=order.__getitem__)
        self.inverse = torch.tensor(inverse, dtype=torch.long, device=device)
        self.single = len(self.groups) == 1

    def apply(self, fn: Callable) -> torch.Tensor:
        """fn(key, pick) -> one value per member of the group, where pick(x) selects the
        group's rows of x (N, …); returns the values of all N members in member order."""
        if self.single:
            return fn(self.groups[0][0], lambda x: x)
        parts = [fn(key, lambda x, rows=rows: x.index_select(0, rows)) for key, rows in self.groups]
        return torch.cat(parts).index_select(0, self.inverse)


def member_norms(params: list[torch.Tensor]) -> torch.Tensor:
    """Each member's gradient norm over all its parameters: (N,)."""
    squares = [p.grad.pow(2).sum(dim=(1, 2)) for p in params if p.grad is not None]
    return torch.stack(squares).sum(0).sqrt()

