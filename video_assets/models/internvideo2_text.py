"""InternVideo2 text encoder: BERT with HF key names (``text_encoder.bert.*``).

The official model is xbert's ``BertForMaskedLM`` with cross-attention to video tokens
in layers >= ``fusion_layer``. For embeddings only the text-only forward matters: it
runs layers 0 .. fusion_layer-1 and takes the hidden state of token 0 ([CLS]).
The cross-attention parameters of the top layers are built so the checkpoint loads
strictly, but no forward here uses them; the MLM head is not built at all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from video_assets.models.internvideo2_config import InternVideo2TextConfig
from video_assets.models.internvideo2_vision import merge_heads, split_heads

# Padding gets this additive score, as in the official model (not finfo.min).
MASKED_SCORE = -10000.0


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: InternVideo2TextConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        # The checkpoint's `position_ids` buffer is a plain arange; we build it per call.

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        L = input_ids.shape[1]
        positions = torch.arange(L, device=input_ids.device)
        # token_type_ids are all 0 for this model.
        x = self.word_embeddings(input_ids) + self.token_type_embeddings.weight[0]
        x = x + self.position_embeddings(positions)[None]
        return self.LayerNorm(x)  # (B, L, hidden)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: InternVideo2TextConfig, kv_width: int) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(kv_width, cfg.hidden_size)
        self.value = nn.Linear(kv_width, cfg.hidden_size)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(proj(x), self.num_heads) for proj in (self.query, self.key, self.value))
        # (B, H, L, D/H); the additive mask broadcasts from (B, 1, 1, L)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=additive_mask)
        return merge_heads(out)  # (B, L, D)


class BertSelfOutput(nn.Module):
    """dense -> residual -> LayerNorm (post-LN), shared by attention and FFN outputs."""

    def __init__(self, cfg: InternVideo2TextConfig, in_width: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_width, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg: InternVideo2TextConfig, kv_width: int) -> None:
        super().__init__()
        self.self = BertSelfAttention(cfg, kv_width)
        self.output = BertSelfOutput(cfg, cfg.hidden_size)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, additive_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg: InternVideo2TextConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # exact (erf) GELU, HF "gelu"


class BertLayer(nn.Module):
    def __init__(self, cfg: InternVideo2TextConfig, index: int) -> None:
        super().__init__()
        self.attention = BertAttention(cfg, cfg.hidden_size)
        if index >= cfg.fusion_layer:
            # Video-to-text fusion (keys/values from vision tokens): loaded, never run here.
            self.crossattention = BertAttention(cfg, cfg.encoder_width)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertSelfOutput(cfg, cfg.intermediate_size)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, additive_mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, cfg: InternVideo2TextConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg, i) for i in range(cfg.num_layers))


class BertModel(nn.Module):
    """No pooler (the official text encoder has none)."""

    def __init__(self, cfg: InternVideo2TextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)

    def text_hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The official ``mode="text"`` forward: (B, L) ids and 0/1 mask to (B, L, hidden)."""
        x = self.embeddings(input_ids)
        mask = attention_mask[:, None, None, :].to(x.dtype)  # (B, 1, 1, L)
        additive_mask = (1.0 - mask) * MASKED_SCORE
        for layer in self.encoder.layer[: self.cfg.fusion_layer]:
            x = layer(x, additive_mask)
        return x


class InternVideo2TextEncoder(nn.Module):
    """Holds ``bert`` so parameter names read ``text_encoder.bert.*`` as in the checkpoint."""

    def __init__(self, cfg: InternVideo2TextConfig) -> None:
        super().__init__()
        self.bert = BertModel(cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The [CLS] hidden state after layer fusion_layer-1: (B, hidden)."""
        return self.bert.text_hidden_states(input_ids, attention_mask)[:, 0]
