"""Optimizers: AdamW (paper default, SPEC §6), Adam (Table VI) and Lion (paper 003).

Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms") is implemented here as a
small :class:`torch.optim.Optimizer` so the project needs no extra dependency. Paper 003 found its
best learning rate at about one third of AdamW's; Lion's update has unit magnitude per coordinate,
so its decoupled weight decay is usually set 3–10× larger than AdamW's to keep ``lr · λ`` similar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "lion")


class Lion(torch.optim.Optimizer):
    """Lion: sign of an interpolated momentum, decoupled weight decay.

    Per parameter ``θ`` with gradient ``g`` and momentum ``m`` (initialised to 0)::

        c = β1·m + (1 − β1)·g
        θ ← θ·(1 − lr·λ) − lr·sign(c)
        m ← β2·m + (1 − β2)·g

    Args:
        params: parameters or parameter groups.
        lr: learning rate (> 0).
        betas: ``(β1, β2)`` in ``[0, 1)``; the paper's default is ``(0.9, 0.99)``.
        weight_decay: decoupled weight decay ``λ`` (>= 0).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0.0:
            raise ValueError(f"Lion lr must be > 0, got {lr}")
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"Lion betas must be two values in [0, 1), got {betas}")
        if weight_decay < 0.0:
            raise ValueError(f"Lion weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError("Lion does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                m = state["exp_avg"]
                g = p.grad
                if wd != 0.0:
                    p.mul_(1.0 - lr * wd)
                update = m.mul(beta1).add_(g, alpha=1.0 - beta1).sign_()
                p.add_(update, alpha=-lr)
                m.mul_(beta2).add_(g, alpha=1.0 - beta2)
        return loss


def build_optimizer(
    name: str,
    params: Iterable[Tensor] | Iterable[dict[str, Any]],
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] | None = None,
) -> torch.optim.Optimizer:
    """Build one of the supported optimizers.

    Args:
        name: ``"adamw"`` (decoupled weight decay, paper default), ``"adam"`` (L2 penalty added to the
            gradient, as in ``torch.optim.Adam``) or ``"lion"``.
        params: parameters or parameter groups (a group may override ``weight_decay``).
        lr: learning rate.
        weight_decay: weight decay (decoupled for AdamW and Lion, L2 for Adam).
        betas: momentum coefficients; default ``(0.9, 0.999)`` for Adam/AdamW, ``(0.9, 0.99)`` for Lion.

    Raises:
        ValueError: unknown optimizer name.
    """
    key = name.lower()
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas or (0.9, 0.999))
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas or (0.9, 0.999))
    if key == "lion":
        return Lion(params, lr=lr, weight_decay=weight_decay, betas=betas or (0.9, 0.99))
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")
