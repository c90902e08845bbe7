"""A deep ensemble: several trained multitask models of one architecture, their outputs averaged.

Members differ only in their initialisation and sampling seed (``training.ensemble: N`` trains them one after the
other on the same windows; Lakshminarayanan et al. 2017). On gaitpdb, five members trained from seeds 42 and 1-4
on the same folds scored anywhere between 0.72 and 0.79 subject accuracy and 7.3 and 8.1 kg weight MAE: the
initialisation alone moves a single model as much as the fold assignment does (README "Ensembles").

:class:`EnsembleModel` is a :class:`~insole_mtl.models.base.MultitaskModel`, so everything that runs a trained
model (evaluation, ``insole_infer``, MLflow serving, the ONNX and edge exports, distillation) runs an ensemble
unchanged: its embedding is the members' embeddings side by side ``(b, N * d)`` and its heads average the
members' heads — class logits and standardised regression outputs — over that embedding, so
``forward = mean over members of member.forward`` (the members share one target scaling, checked).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from insole_mtl.models.base import MultitaskModel


class EnsembleModel(MultitaskModel):
    """The mean of ``members``' outputs (logits and standardised regressions), destandardised once.

    Args:
        members: two or more trained models of one family (same tasks, inputs, embedding width and target
            scaling; their ``build_spec`` and ``preprocessing`` are taken from the first).

    Raises:
        ValueError: fewer than two members, or members that differ in tasks, inputs, embedding width or target
            scaling (named).
    """

    def __init__(self, members: Sequence[MultitaskModel]) -> None:
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        for i, member in enumerate(members):
            if not isinstance(member, MultitaskModel):
                raise ValueError(f"ensemble member {i} is a {type(member).__name__}, not a MultitaskModel")
        first = members[0]
        for i, member in enumerate(members[1:], start=1):
            for what in ("task_names", "input_names", "embedding_dim"):
                if getattr(member, what) != getattr(first, what):
                    raise ValueError(
                        f"ensemble member {i} has {what} {getattr(member, what)!r}, member 0 {getattr(first, what)!r}"
                    )
            for task in first.target_scaling:
                if member.target_scaling_of(task) != first.target_scaling_of(task):
                    raise ValueError(
                        f"ensemble member {i} standardises {task!r} with (loc, scale) {member.target_scaling_of(task)}, "
                        f"member 0 with {first.target_scaling_of(task)}: members must be trained on the same windows"
                    )
        # nn.Module's initialiser, not MultitaskModel's: the ensemble has no heads or amplitude branch of its own
        nn.Module.__init__(self)
        self.members = nn.ModuleList(members)
        self.tasks = first.tasks
        self.embedding_dim = first.embedding_dim * len(members)
        self.target_scaling = copy.deepcopy(first.target_scaling)
        self.amplitude_linear = None
        self.preprocessing = dict(first.preprocessing or {})
        spec = first.build_spec
        self.build_spec = {**spec, "members": len(members)} if spec else None

    # the first member's primary input and amplitude branch: the base class's input_names and has_amplitude
    # follow from them
    @property
    def primary_input(self) -> str:  # type: ignore[override]
        return self.members[0].primary_input

    @property
    def amplitude(self):  # type: ignore[override]
        """The first member's amplitude branch (every member's holds the same training statistics): what
        ``insole_infer``'s unit check reads."""
        return self.members[0].amplitude

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The members' embeddings side by side, ``(b, N * d)`` float32."""
        self._check_inputs(inputs)
        return torch.cat([member.embed(*inputs) for member in self.members], dim=1)

    def heads_forward(self, embedding: torch.Tensor, window: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The mean over members of each member's heads on its slice of ``embedding`` ``(b, N * d)``: class logits
        ``(b, n_classes)``, standardised regressions ``(b,)``."""
        parts = embedding.chunk(len(self.members), dim=1)
        outputs = [member.heads_forward(part, window) for member, part in zip(self.members, parts, strict=True)]
        return {name: torch.stack([out[name] for out in outputs]).mean(0) for name in self.task_names}

    def set_target_scaling(self, task: str, loc: float, scale: float) -> None:
        """Set the standardisation of ``task`` on the ensemble and on every member (they must stay equal)."""
        super().set_target_scaling(task, loc, scale)
        for member in self.members:
            member.set_target_scaling(task, loc, scale)

    def fit_input_statistics(self, *inputs: object) -> None:
        raise TypeError("an EnsembleModel is assembled from trained members; fit each member's input statistics")
