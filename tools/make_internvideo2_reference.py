"""Make the InternVideo2 parity data in tests/data/internvideo2_tiny/ with the OFFICIAL code.

Builds the official vision encoder (PretrainInternVideo2) and xbert BertForMaskedLM at
the tiny size of `InternVideo2Config.tiny()`, randomises every parameter, and records
what the official code computes on fixed inputs. tests/models/test_internvideo2_parity.py
loads the checkpoint into our model and compares everything.

Run it in a throwaway virtualenv (never the project's), e.g.:

    python3.11 -m venv /tmp/iv2ref && /tmp/iv2ref/bin/pip install torch==2.13.0 \
        transformers==4.28.1 timm==0.5.4 einops==0.7.0 safetensors opencv-python-headless
    git clone --no-checkout <a clone of OpenGVLab/InternVideo> /tmp/InternVideo
    git -C /tmp/InternVideo sparse-checkout set InternVideo2/multi_modality
    git -C /tmp/InternVideo checkout 09d872e5093296c6f36b8b3a91fc511b76433bf7
    /tmp/iv2ref/bin/python tools/make_internvideo2_reference.py /tmp/InternVideo

The official code is imported piecemeal (stand-ins for flash_attn, timm's torchvision
import, and unrelated package __init__s); nothing here changes its arithmetic.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

EXPECTED_COMMIT = "09d872e5093296c6f36b8b3a91fc511b76433bf7"
SUBDIR = "InternVideo2/multi_modality"
SEED = 20240617

# Same numbers as InternVideo2Config.tiny() (the parity test checks they agree).
VISION = dict(
    img_size=12, patch_size=4, num_frames=4, tubelet_size=1, in_chans=3, width=32, depth=2, num_heads=4,
    mlp_hidden_dim=48, clip_embed_dim=24, attn_pool_num_heads=2, qk_normalization=True, layer_scale=True,
    layer_scale_init=1e-5, sep_image_video_pos_embed=True, norm_eps=1e-6, pool_norm_eps=1e-5,
)  # fmt: skip
TEXT = dict(
    vocab_size=40, hidden_size=16, num_layers=3, num_heads=2, intermediate_size=32, max_position_embeddings=16,
    type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0, fusion_layer=2, encoder_width=32,
)  # fmt: skip
EMBED_DIM, MAX_TXT_LEN = 16, 10

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "the", "dog", "cat", "runs", "run", "##s", "##ing",
    "play", "on", "grass", "red", "ball", "cafe", "man", "woman", "is", "jump", "##ed", "over", ".", ",",
    "!", "water", "car", "in", "snow", "rain", "city", "street", "night", "people", "walk", "video", "##y",
]  # fmt: skip
TEXTS = [
    "A dog runs on the grass.",
    "The Woman is PLAYING, jumped over a red ball!",  # case, word pieces, truncation
    "Café zebra",  # accent stripping, unknown word
    "",
    "cats   running\tin snow",  # a word with an unknown piece becomes one [UNK]
]


def check_source(root: Path, allow_unverified: bool) -> Path:
    src = root / SUBDIR if (root / SUBDIR).is_dir() else root
    if not (src / "models/backbones/internvideo2/internvideo2.py").is_file():
        raise SystemExit(f"{root} does not hold {SUBDIR}")
    head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(src), "diff", "--quiet", "HEAD", "--", "."], capture_output=True)
    if head.returncode == 0 and head.stdout.strip() == EXPECTED_COMMIT and dirty.returncode == 0:
        return src
    if not allow_unverified:
        raise SystemExit(
            f"{src} is not a clean checkout of {EXPECTED_COMMIT} (HEAD: {head.stdout.strip() or 'no git'}); "
            "pass --allow-unverified only for an exported copy of exactly that commit"
        )
    return src


def _package(name: str, path: Path | None = None, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    # A spec, because transformers probes optional packages with importlib.util.find_spec.
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=path is not None)
    if path is not None:
        module.__path__ = [str(path)]
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def _load_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _unavailable(*_: object, **__: object) -> None:
    raise RuntimeError("stand-in for an optional dependency: not used on this path")


def import_official(src: Path) -> types.SimpleNamespace:
    """Import just the official modules this needs, around their unrelated imports."""
    # flash_attn is absent: flash_attention_class imports these names at top level;
    # internvideo2.py wraps its fused imports in try/except and falls back to plain torch.
    _package("flash_attn")
    _package("flash_attn.flash_attn_interface", flash_attn_varlen_qkvpacked_func=_unavailable)
    _package("flash_attn.bert_padding", unpad_input=_unavailable, pad_input=_unavailable)
    # timm's package __init__ imports torchvision; load the three layer files it needs directly.
    timm_dir = Path(importlib.util.find_spec("timm").submodule_search_locations[0]) / "models/layers"
    drop = _load_file("_timm_drop", timm_dir / "drop.py")
    helpers = _load_file("_timm_helpers", timm_dir / "helpers.py")
    init = _load_file("_timm_weight_init", timm_dir / "weight_init.py")
    _package("timm")
    _package("timm.models")
    _package(
        "timm.models.layers", DropPath=drop.DropPath, to_2tuple=helpers.to_2tuple, trunc_normal_=init.trunc_normal_
    )
    # The models/ package __init__s pull in every other model; register bare packages instead.
    sys.path.insert(0, str(src))
    _package("models", src / "models")
    _package("models.backbones", src / "models/backbones")
    backbones = _package("models.backbones.internvideo2", src / "models/backbones/internvideo2")
    _package("models.backbones.bert", src / "models/backbones/bert")
    vit = importlib.import_module("models.backbones.internvideo2.internvideo2")
    backbones.__dict__.update(
        pretrain_internvideo2_1b_patch14_224=vit.pretrain_internvideo2_1b_patch14_224,
        pretrain_internvideo2_6b_patch14_224=vit.pretrain_internvideo2_6b_patch14_224,
        internvl_clip_6b=_unavailable,
    )
    _package("models.criterions", MLMLoss=None, VTC_VTM_Loss=None, new_UTA_Loss=None, get_sim=_unavailable)
    return types.SimpleNamespace(
        vit=vit,
        pos_embed=importlib.import_module("models.backbones.internvideo2.pos_embed"),
        xbert=importlib.import_module("models.backbones.bert.xbert"),
        tokenization=importlib.import_module("models.backbones.bert.tokenization_bert"),
        stage2=importlib.import_module("models.internvideo2_stage2_visual"),
        demo=_load_file("internvideo2_demo_utils", src / "demo/utils.py"),
    )


def build_official(official: types.SimpleNamespace, tokenizer: object) -> nn.Module:
    """The training class (its state dict is the released checkpoint's layout) at tiny size."""
    vision = official.vit.PretrainInternVideo2(
        in_chans=VISION["in_chans"], patch_size=VISION["patch_size"], img_size=VISION["img_size"], qkv_bias=False,
        drop_path_rate=0.25, embed_dim=VISION["width"], num_heads=VISION["num_heads"],
        mlp_ratio=VISION["mlp_hidden_dim"] / VISION["width"], init_values=VISION["layer_scale_init"],
        qk_normalization=True, depth=VISION["depth"], use_flash_attn=False, use_fused_rmsnorm=False,
        use_fused_mlp=False, attn_pool_num_heads=VISION["attn_pool_num_heads"],
        clip_embed_dim=VISION["clip_embed_dim"], layerscale_no_force_fp32=False,
        num_frames=VISION["num_frames"], tubelet_size=1, sep_pos_embed=False, sep_image_video_pos_embed=True,
        clip_teacher_embed_dim=40, clip_teacher_final_dim=20, clip_norm_type="l2", clip_return_layer=1,
    )  # fmt: skip
    assert vision.blocks[0].mlp.fc1.out_features == VISION["mlp_hidden_dim"]
    bert_config = official.xbert.BertConfig(
        vocab_size=TEXT["vocab_size"], hidden_size=TEXT["hidden_size"], num_hidden_layers=TEXT["num_layers"],
        num_attention_heads=TEXT["num_heads"], intermediate_size=TEXT["intermediate_size"], hidden_act="gelu",
        max_position_embeddings=TEXT["max_position_embeddings"], type_vocab_size=TEXT["type_vocab_size"],
        layer_norm_eps=TEXT["layer_norm_eps"], pad_token_id=0, position_embedding_type="absolute",
    )  # fmt: skip
    # What build_bert sets on top of config_bert_large.json.
    bert_config.encoder_width = TEXT["encoder_width"]
    bert_config.fusion_layer = TEXT["fusion_layer"]
    bert_config.gradient_checkpointing = False
    text = official.xbert.BertForMaskedLM(bert_config)

    model = official.stage2.InternVideo2_Stage2_visual.__new__(official.stage2.InternVideo2_Stage2_visual)
    nn.Module.__init__(model)  # its __init__ hard-codes the 1B builder and training losses
    model.vision_encoder = vision
    model.text_encoder = text
    model.vision_proj = nn.Linear(VISION["clip_embed_dim"], EMBED_DIM)
    model.text_proj = nn.Linear(TEXT["hidden_size"], EMBED_DIM)
    model.temp = nn.Parameter(torch.ones([]) * 0.07)
    model.itm_head = nn.Linear(TEXT["hidden_size"], 2)
    # For the demo's get_txt_feat.
    model.tokenizer = tokenizer
    model.config = types.SimpleNamespace(max_txt_l=MAX_TXT_LEN, device="cpu")
    return model.eval()


def randomize(model: nn.Module, gen: torch.Generator) -> None:
    """Every parameter random and O(1)-sized, so a mis-mapped or unused one shows in the outputs."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith("gamma"):  # layer scale
                value = 0.2 + 0.6 * torch.rand(p.shape, generator=gen)
            elif p.ndim <= 1 and name.endswith("weight") and "norm" in name.lower():
                value = 1.0 + 0.2 * noise
            elif p.ndim <= 1:  # biases, temp
                value = 0.2 * noise
            elif name.endswith(("pos_embed", "cls_token")) or "embeddings." in name:
                value = 0.5 * noise
            else:
                value = noise / p[0].numel() ** 0.5  # fan-in scaled
            p.copy_(value)


def run(official: types.SimpleNamespace, model: nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    hooks = []
    stage = {"name": "unused"}  # which input the hooks are recording

    def record(prefix: str, module: nn.Module) -> None:
        def hook(_m: nn.Module, _i: object, output: object) -> None:
            value = output[0] if isinstance(output, tuple) else output
            out[f"{stage['name']}.{prefix}"] = value.detach().clone()

        hooks.append(module.register_forward_hook(hook))

    vit = model.vision_encoder
    record("patch_embed", vit.patch_embed)
    for i, block in enumerate(vit.blocks):
        record(f"block.{i}", block)
    record("pooled", vit.clip_projector)
    bert = model.text_encoder.bert
    record("embeddings", bert.embeddings)
    for i, layer in enumerate(bert.encoder.layer):
        record(f"layer.{i}", layer)

    size, frames = VISION["img_size"], VISION["num_frames"]
    video = torch.randn(2, frames, 3, size, size, generator=gen)
    image = torch.randn(2, 1, 3, size, size, generator=gen)
    with torch.no_grad():
        stage["name"] = "video"
        out["video.input"] = video
        out["video.embeds"] = official.demo.InternVideo2_Stage2.get_vid_feat(model, video)
        stage["name"] = "image"
        out["image.input"] = image
        out["image.embeds"] = official.demo.InternVideo2_Stage2.get_vid_feat(model, image)
        # Padded batch through the official text path, then each text alone via the demo.
        stage["name"] = "text"
        tokens = model.tokenizer(
            TEXTS, padding="max_length", truncation=True, max_length=MAX_TXT_LEN, return_tensors="pt"
        )
        out["text.input_ids"], out["text.attention_mask"] = tokens.input_ids, tokens.attention_mask
        _, out["text.cls"] = model.encode_text(tokens)
        stage["name"] = "unused"
        out["text.embeds"] = torch.cat([official.demo.InternVideo2_Stage2.get_txt_feat(model, t) for t in TEXTS])
    for hook in hooks:
        hook.remove()
    return {k: v for k, v in out.items() if not k.startswith("unused.")}


def norm_probes(model: nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Each kind of norm on inputs of RMS ~1e-3, where eps matters (it hardly does at RMS ~1)."""
    probes = {
        "block_rmsnorm": model.vision_encoder.blocks[0].norm1,
        "qk_rmsnorm": model.vision_encoder.blocks[0].attn.q_norm,
        "pool_layernorm": model.vision_encoder.clip_projector.norm1_k,
        "bert_layernorm": model.text_encoder.bert.embeddings.LayerNorm,
    }
    out = {}
    with torch.no_grad():
        for name, module in probes.items():
            x = 1e-3 * torch.randn(2, 5, module.weight.shape[0], generator=gen)
            out[f"probe.{name}.input"], out[f"probe.{name}.output"] = x, module(x)
    return out


def preprocessing(official: types.SimpleNamespace, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The demo's frames2tensor (cv2.resize + ImageNet norm) on 4 RGB frames, up- and downscaled."""
    out = {}
    size = VISION["img_size"]
    for name, (h, w) in {"upscale": (7, 9), "downscale": (37, 29)}.items():
        rgb = torch.randint(0, 256, (VISION["num_frames"], h, w, 3), generator=gen, dtype=torch.uint8).numpy()
        bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in rgb]  # the demo flips cv2's BGR to RGB
        tensor = official.demo.frames2tensor(bgr, fnum=VISION["num_frames"], target_size=(size, size), device="cpu")
        out[f"prep.{name}.frames"] = torch.from_numpy(rgb)
        out[f"prep.{name}.tensor"] = tensor[0]  # (T, C, H, W)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help=f"checkout of OpenGVLab/InternVideo at {EXPECTED_COMMIT}")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/internvideo2_tiny"
    )
    parser.add_argument("--allow-unverified", action="store_true", help="source is not a git checkout")
    args = parser.parse_args()
    src = check_source(args.official, args.allow_unverified)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # fixed reduction order
    gen = torch.Generator().manual_seed(SEED)
    official = import_official(src)

    args.out.mkdir(parents=True, exist_ok=True)
    assert len(VOCAB) == TEXT["vocab_size"]
    (args.out / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = official.tokenization.BertTokenizer(str(args.out / "vocab.txt"), do_lower_case=True)
    model = build_official(official, tokenizer)

    g, t, width = VISION["img_size"] // VISION["patch_size"], VISION["num_frames"], VISION["width"]
    tensors = {
        # The official fixed init, from a freshly built model and from the function itself.
        "init.pos_embed": model.vision_encoder.pos_embed.detach().clone()[0],
        "init.img_pos_embed": model.vision_encoder.img_pos_embed.detach().clone()[0],
        "init.sincos_3d_t2_g5_w64": torch.from_numpy(official.pos_embed.get_3d_sincos_pos_embed(64, 5, 2, cls_token=True)).float(),
    }  # fmt: skip
    assert tensors["init.pos_embed"].shape == (1 + t * g * g, width)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    randomize(model, gen)
    unchanged = [k for k, v in model.state_dict().items() if v.is_floating_point() and torch.equal(v, before[k])]
    assert not unchanged, f"parameters left at their init: {unchanged}"

    tensors.update(run(official, model, gen))
    tensors.update(norm_probes(model, gen))
    tensors.update(preprocessing(official, gen))
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(args.out / "reference.safetensors"))
    torch.save({"model": model.state_dict()}, args.out / "checkpoint.pt")
    (args.out / "config.json").write_text(
        json.dumps(
            {"vision": VISION, "text": TEXT, "embed_dim": EMBED_DIM, "max_txt_len": MAX_TXT_LEN},
            indent=2,
        )
        + "\n"
    )
    (args.out / "SOURCE.json").write_text(
        json.dumps(
            {
                "official_repo": "OpenGVLab/InternVideo",
                "commit": EXPECTED_COMMIT,
                "texts": TEXTS,
                "seed": SEED,
                "torch": torch.__version__,
                "transformers": importlib.import_module("transformers").__version__,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {len(tensors)} tensors and a checkpoint of {len(model.state_dict())} keys to {args.out}")


if __name__ == "__main__":
    main()
