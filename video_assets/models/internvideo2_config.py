"""Sizes of InternVideo2-Stage2 1B (224p, 4 frames): one dataclass per tower.

Defaults are the released checkpoint ``OpenGVLab/InternVideo2-Stage2_1B-224p-f4``
(vision preset ``pretrain_internvideo2_1b_patch14_224``, text ``config_bert_large.json``).
`InternVideo2Config.tiny()` is the same architecture at toy size for tests; the
reference tensors in ``tests/data/internvideo2_tiny`` were made by the official code
at exactly that size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Frame counts a checkpoint's pos-embed may be interpolated to (the released one has 4).
NUM_FRAMES_RANGE = (1, 64)


@dataclass(frozen=True)
class InternVideo2VisionConfig:
    img_size: int = 224  # square input, as the official PatchEmbed assumes
    patch_size: int = 14
    num_frames: int = 4
    tubelet_size: int = 1
    in_chans: int = 3
    width: int = 1408  # the official `embed_dim` of the ViT
    depth: int = 40
    num_heads: int = 16
    mlp_hidden_dim: int = 6144  # int(1408 * 48 / 11)
    clip_embed_dim: int = 768  # output of the attention pooling
    attn_pool_num_heads: int = 16
    qk_normalization: bool = True
    layer_scale: bool = True  # ls1/ls2 gammas (init 1e-5, applied in fp32)
    layer_scale_init: float = 1e-5
    sep_image_video_pos_embed: bool = True  # T == 1 uses its own img_pos_embed
    norm_eps: float = 1e-6  # RMSNorm in the blocks and the qk-norm
    pool_norm_eps: float = 1e-5  # the three LayerNorms of the attention pooling

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {self.num_frames}")
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}")
        if self.num_frames % self.tubelet_size:
            raise ValueError(f"num_frames {self.num_frames} is not a multiple of tubelet_size {self.tubelet_size}")
        for heads in (self.num_heads, self.attn_pool_num_heads):
            if self.width % heads:
                raise ValueError(f"width {self.width} is not divisible by {heads} heads")
        # The 3-D sin-cos init splits width into 1/4 temporal + 3/4 spatial, each half sin/cos.
        if self.width % 16:
            raise ValueError(f"width {self.width} must be a multiple of 16 for the sin-cos pos-embed")

    @property
    def grid_size(self) -> int:
        """Patches per side of one frame."""
        return self.img_size // self.patch_size

    @property
    def t_size(self) -> int:
        """Temporal tokens per clip."""
        return self.num_frames // self.tubelet_size


@dataclass(frozen=True)
class InternVideo2TextConfig:
    """BERT-large with cross-attention from `fusion_layer` on (HF-BERT key names)."""

    vocab_size: int = 30522
    hidden_size: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    intermediate_size: int = 4096
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    fusion_layer: int = 19  # text-only forward runs layers 0 .. fusion_layer-1
    encoder_width: int = 1408  # width of the vision tokens the cross-attention reads

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by {self.num_heads} heads")
        if not 0 < self.fusion_layer <= self.num_layers:
            raise ValueError(f"fusion_layer {self.fusion_layer} must be in 1..{self.num_layers}")


@dataclass(frozen=True)
class InternVideo2Config:
    vision: InternVideo2VisionConfig = field(default_factory=InternVideo2VisionConfig)
    text: InternVideo2TextConfig = field(default_factory=InternVideo2TextConfig)
    embed_dim: int = 512  # joint video-text space (vision_proj / text_proj output)
    max_txt_len: int = 40  # tokenizer pads and truncates to this many tokens

    def __post_init__(self) -> None:
        if self.text.encoder_width != self.vision.width:
            raise ValueError(
                f"text.encoder_width {self.text.encoder_width} must equal vision.width {self.vision.width}"
            )
        if self.max_txt_len > self.text.max_position_embeddings:
            raise ValueError(
                f"max_txt_len {self.max_txt_len} exceeds max_position_embeddings {self.text.max_position_embeddings}"
            )

    def with_num_frames(self, num_frames: int) -> InternVideo2Config:
        """This config for clips of ``num_frames`` frames; loading a checkpoint made for
        another count interpolates its pos-embed over time."""
        low, high = NUM_FRAMES_RANGE
        if not low <= num_frames <= high:
            raise ValueError(f"InternVideo2 num_frames must be in {low}..{high}, got {num_frames}")
        return replace(self, vision=replace(self.vision, num_frames=num_frames))

    @classmethod
    def tiny(cls) -> InternVideo2Config:
        """Toy sizes with the same structure (heads differ between the ViT and the pooling
        on purpose, so mixing them up cannot pass the parity test)."""
        vision = InternVideo2VisionConfig(
            img_size=12,
            patch_size=4,
            num_frames=4,
            width=32,
            depth=2,
            num_heads=4,
            mlp_hidden_dim=48,
            clip_embed_dim=24,
            attn_pool_num_heads=2,
        )
        text = InternVideo2TextConfig(
            vocab_size=40,
            hidden_size=16,
            num_layers=3,
            num_heads=2,
            intermediate_size=32,
            max_position_embeddings=16,
            fusion_layer=2,
            encoder_width=vision.width,
        )
        return cls(vision=vision, text=text, embed_dim=16, max_txt_len=10)
