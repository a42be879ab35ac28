"""InternVideo2 vision encoder (the official ``PretrainInternVideo2``, inference path only).

Module and parameter names follow the official checkpoint (``vision_encoder.*``), so
its state dict loads 1:1. Training-only parts (CLIP distillation decoders and their
pos-embeds) are not built; the checkpoint loader drops those keys by name.

Shapes use B batch, C channels, T frames, N tokens, D width, H heads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from video_assets.models.internvideo2_config import InternVideo2VisionConfig


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(M,) positions to (M, dim) codes ``[sin(p*w), cos(p*w)]``, w_i = 10000^(-i/(dim/2))."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_pos_embed_3d(dim: int, grid_size: int, t_size: int) -> torch.Tensor:
    """The official fixed init: (1 + t*g*g, dim), cls row zero, tokens frame-major.

    The first dim/4 channels encode t; the rest is a 2-D code whose first half encodes
    the column (w) and second half the row (h), as the official meshgrid order does.
    """
    spatial_dim, temporal_dim = dim // 4 * 3, dim // 4
    rows, cols = torch.meshgrid(torch.arange(grid_size), torch.arange(grid_size), indexing="ij")
    spatial = torch.cat(
        [sincos_1d(spatial_dim // 2, cols.flatten()), sincos_1d(spatial_dim // 2, rows.flatten())], dim=1
    )  # (g*g, 3D/4)
    temporal = sincos_1d(temporal_dim, torch.arange(t_size))  # (t, D/4)
    grid = torch.cat(
        [
            temporal[:, None, :].expand(t_size, grid_size * grid_size, temporal_dim),
            spatial[None, :, :].expand(t_size, grid_size * grid_size, spatial_dim),
        ],
        dim=-1,
    ).reshape(-1, dim)
    return torch.cat([torch.zeros(1, dim, dtype=grid.dtype), grid], dim=0).float()


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, D) -> (B, H, N, D/H)."""
    B, N, D = x.shape
    return x.view(B, N, num_heads, D // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, N, D/H) -> (B, N, D)."""
    B, H, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, H * d)


class RMSNorm(nn.Module):
    """Weight-only RMS norm, statistics in fp32 (as the official one, for bf16 runs)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class LayerScale(nn.Module):
    """Per-channel gamma, multiplied in fp32 and cast back (official force_fp32)."""

    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() * self.gamma.float()).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: InternVideo2VisionConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.qkv = nn.Linear(cfg.width, cfg.width * 3, bias=False)
        self.proj = nn.Linear(cfg.width, cfg.width)
        # qk-norm runs over the full width (all heads at once), before the head split.
        self.q_norm = RMSNorm(cfg.width, cfg.norm_eps) if cfg.qk_normalization else nn.Identity()
        self.k_norm = RMSNorm(cfg.width, cfg.norm_eps) if cfg.qk_normalization else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # each (B, N, D), head-major inside D
        q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))  # (B, H, N, D/H)
        out = F.scaled_dot_product_attention(q, k, v)  # scale = head_dim^-0.5
        return self.proj(merge_heads(out))  # (B, N, D)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    """Pre-norm block: x += ls1(attn(norm1(x))); x += ls2(mlp(norm2(x)))."""

    def __init__(self, cfg: InternVideo2VisionConfig) -> None:
        super().__init__()
        self.norm1 = RMSNorm(cfg.width, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ls1 = LayerScale(cfg.width, cfg.layer_scale_init) if cfg.layer_scale else nn.Identity()
        self.norm2 = RMSNorm(cfg.width, cfg.norm_eps)
        self.mlp = Mlp(cfg.width, cfg.mlp_hidden_dim)
        self.ls2 = LayerScale(cfg.width, cfg.layer_scale_init) if cfg.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, cfg: InternVideo2VisionConfig) -> None:
        super().__init__()
        kernel = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(cfg.in_chans, cfg.width, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)  # (B, D, T', g, g)
        return x.flatten(3).permute(0, 2, 3, 1)  # (B, T', g*g, D): frame-major, row-major


class CrossAttention(nn.Module):
    """q/k/v Linear without bias plus separate q_bias/k_bias/v_bias (official layout)."""

    def __init__(self, dim: int, num_heads: int, out_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.k_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, x_q: torch.Tensor, x_k: torch.Tensor, x_v: torch.Tensor) -> torch.Tensor:
        q = split_heads(F.linear(x_q, self.q.weight, self.q_bias), self.num_heads)  # (B, H, Nq, D/H)
        k = split_heads(F.linear(x_k, self.k.weight, self.k_bias), self.num_heads)  # (B, H, N, D/H)
        v = split_heads(F.linear(x_v, self.v.weight, self.v_bias), self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, Nq, D/H)
        return self.proj(merge_heads(out))  # (B, Nq, out_dim)


class AttentionPoolingBlock(nn.Module):
    """Pools all tokens (cls included) with one query: their mean."""

    def __init__(self, cfg: InternVideo2VisionConfig) -> None:
        super().__init__()
        self.norm1_q = nn.LayerNorm(cfg.width, eps=cfg.pool_norm_eps)
        self.norm1_k = nn.LayerNorm(cfg.width, eps=cfg.pool_norm_eps)
        self.norm1_v = nn.LayerNorm(cfg.width, eps=cfg.pool_norm_eps)
        self.cross_attn = CrossAttention(cfg.width, cfg.attn_pool_num_heads, cfg.clip_embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query = x.mean(1, keepdim=True)  # (B, 1, D)
        out = self.cross_attn(self.norm1_q(query), self.norm1_k(x), self.norm1_v(x))
        return out.squeeze(1)  # (B, clip_embed_dim)


class InternVideo2VisionEncoder(nn.Module):
    """[B, C, T, H, W] -> pooled features [B, clip_embed_dim]. T == 1 is the image path."""

    def __init__(self, cfg: InternVideo2VisionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.width))
        self.pos_embed = nn.Parameter(sincos_pos_embed_3d(cfg.width, cfg.grid_size, cfg.t_size)[None])
        if cfg.sep_image_video_pos_embed:
            self.img_pos_embed = nn.Parameter(sincos_pos_embed_3d(cfg.width, cfg.grid_size, 1)[None])
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        # No norm after the blocks: the official model has none.
        self.clip_projector = AttentionPoolingBlock(cfg)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def image_pos_embed(self) -> torch.Tensor:
        """(1, 1 + g*g, D) for T == 1: its own table, or the video table averaged over time."""
        if self.cfg.sep_image_video_pos_embed:
            return self.img_pos_embed
        g2, D = self.cfg.grid_size**2, self.cfg.width
        frames = self.pos_embed[:, 1:].view(1, self.cfg.t_size, g2, D).mean(dim=1)
        return torch.cat([self.pos_embed[:, :1], frames], dim=1)

    def tokens(self, video: torch.Tensor) -> torch.Tensor:
        """Patch tokens with cls and pos-embed added: (B, 1 + T'*g*g, D)."""
        x = self.patch_embed(video.to(self.patch_embed.proj.weight.dtype))  # (B, T', g*g, D)
        B, T, L, D = x.shape
        if T == 1:
            pos_embed = self.image_pos_embed()
        elif T == self.cfg.t_size:
            pos_embed = self.pos_embed
        else:
            raise ValueError(f"expected {self.cfg.num_frames} frames (or 1 for an image), got {video.shape[2]}")
        x = torch.cat([self.cls_token.expand(B, -1, -1), x.reshape(B, T * L, D)], dim=1)
        return x + pos_embed

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = self.tokens(video)
        for block in self.blocks:
            x = block(x)
        return self.clip_projector(x)
