"""The two-voice model in PyTorch, for training only (``scripts/train-overlap``); the product runs it in numpy.

The layers and their names match what ``voicecoach.detect.stream_model.StreamModel`` reads from the weights file:
a causal ``conv1`` over three 10 ms log-mel hops, ``conv2`` over each 30 ms step's three hops (stride 3), a GRU,
and ``head`` (a hidden layer, then 3 logits for 0/1/2 voices and one for "a voice cut in and goes on").
PyTorch is imported here and in the training script only; tests never import this module.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from voicecoach.detect.stream_model import CONTEXT_HOPS, LOG_FLOOR, N_CLASSES, N_MEL, STEP_HOPS


class TwoVoiceNet(nn.Module):
    """Log-mel hops in, per 30 ms step: logits of 0/1/2 voices and of a cut-in."""

    def __init__(self, conv1: int = 96, conv2: int = 128, hidden: int = 128, head: int = 64) -> None:
        super().__init__()
        self.register_buffer("feat_mean", torch.zeros(N_MEL))
        self.register_buffer("feat_std", torch.ones(N_MEL))
        self.conv1 = nn.Conv1d(N_MEL, conv1, CONTEXT_HOPS + 1)
        self.conv2 = nn.Conv1d(conv1, conv2, STEP_HOPS, stride=STEP_HOPS)
        self.gru = nn.GRU(conv2, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, head), nn.ReLU(), nn.Linear(head, N_CLASSES + 1))

    def forward(self, mel: torch.Tensor, context: torch.Tensor | None = None,
                h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``mel`` (batch, hops, N_MEL), hops a multiple of 3; ``context``: the CONTEXT_HOPS hops before it
        (silence when None). Returns logits (batch, steps, 4) and the GRU's last hidden state."""
        if context is None:
            context = torch.full((mel.shape[0], CONTEXT_HOPS, N_MEL), float(np.log(np.float32(LOG_FLOOR))),
                                 dtype=mel.dtype, device=mel.device)
        x = (torch.cat([context, mel], 1) - self.feat_mean) / self.feat_std
        y = torch.relu(self.conv1(x.transpose(1, 2)))
        y = torch.relu(self.conv2(y)).transpose(1, 2)
        states, h = self.gru(y, h0)
        return self.head(states), h

    def parameter_count(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every weight (and the feature normalisation) as float32 numpy arrays, by the names the run-time reads."""
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.state_dict().items()}
