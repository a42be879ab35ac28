"""The pinned hub artefacts of every embedder with weights (repos and revisions: models/pins.py).

Revisions are the short commit hashes NeMo Curator pinned. The hub wants full
40-character hashes ("When using the commit hash, it must be the full-length
hash instead of a 7-character commit hash", huggingface_hub download guide;
`snapshot_download` only skips branch resolution for `[0-9a-f]{40}`), so
`ModelHub` expands a short pin to the full hash once, online, and records it in
the lock file it writes next to the weights (see `video_assets.models.hub`).

Curator pinned the Cosmos-Embed1 revisions only for the processor config and
fetched the weights from `main`; we pin everything to the same commit, so the
weights never drift under a fixed revision.
"""

from __future__ import annotations

from video_assets.models import pins
from video_assets.models.weights import HubRepo, WeightSpec

INTERNVIDEO2_REPO = HubRepo(
    repo_id=pins.INTERNVIDEO2.repo_id,
    revision=pins.INTERNVIDEO2.revision,
    allow_patterns=("InternVideo2-stage2_1b-224p-f4.pt",),
    required_files=("InternVideo2-stage2_1b-224p-f4.pt",),
    gated=True,
)

# Only the tokenizer and config: the BERT weights inside the InternVideo2 .pt are the
# ones the model uses (Curator loads the .pt strictly over the whole model).
BERT_LARGE_TOKENIZER_REPO = HubRepo(
    repo_id=pins.BERT_LARGE_TOKENIZER.repo_id,
    revision=pins.BERT_LARGE_TOKENIZER.revision,
    allow_patterns=("vocab.txt", "tokenizer.json", "tokenizer_config.json", "config.json"),
    # vocab.txt and config.json exist in every revision of this repo; the other two are
    # fetched when the pinned commit has them (a WordPiece tokenizer builds from vocab.txt).
    required_files=("vocab.txt", "config.json"),
)

# The model's own code ships in the repo (pinned here, run from the snapshot);
# tokenizer file names beyond added_tokens.json are not verified, so they are allowed
# but not required. Weight shards are required through model.safetensors.index.json.
_COSMOS_ALLOW = (
    "*.safetensors",
    "model.safetensors.index.json",
    "config.json",
    "processor_config.json",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "*.py",
)
_COSMOS_REQUIRED = (
    "config.json",
    "processor_config.json",
    "model.safetensors.index.json",
    "added_tokens.json",
    "configuration_embed1.py",
    "modeling_embed1.py",
    "modeling_qformer.py",
    "modeling_vit.py",
    "modeling_utils.py",
    "modeling_outputs.py",
    "preprocessing_embed1.py",
)


def _cosmos_repo(variant: str) -> HubRepo:
    return HubRepo(
        repo_id=pins.COSMOS_EMBED1[variant].repo_id,
        revision=pins.COSMOS_EMBED1[variant].revision,
        allow_patterns=_COSMOS_ALLOW,
        required_files=_COSMOS_REQUIRED,
        ignore_patterns=("*/*",),  # top level only: no examples/, no notebooks
        download_bytes=pins.COSMOS_EMBED1[variant].download_bytes,
    )


WEIGHT_SPECS: dict[str, WeightSpec] = {
    "internvideo2": WeightSpec(name="internvideo2", repos=(INTERNVIDEO2_REPO, BERT_LARGE_TOKENIZER_REPO)),
    **{
        f"cosmos_embed1_{variant}": WeightSpec(name=f"cosmos_embed1_{variant}", repos=(_cosmos_repo(variant),))
        for variant in pins.COSMOS_EMBED1
    },
}
