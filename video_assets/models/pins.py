"""The one table of hub pins: repo, revision and (for snapshots whose code we run) code hashes.

Specs (`EmbedderSpec.model_id` / `revision`), downloads (`weight_specs.WEIGHT_SPECS`) and
the snapshot code check (`snapshot_pin.DEFAULT_PINS`) all read from here, so a revision is
written once. Revisions are the short commit hashes NeMo Curator pinned
(docs/differences_from_nemo_curator.md).

Cosmos-Embed1 runs the modelling code shipped in its hub repo. Its code hashes are not
recorded yet (the hub could not be reached when this table was written), so a Cosmos
snapshot is refused until a maintainer records them
(`python -m video_assets.models.snapshot_pin record SNAPSHOT_DIR --repo-id REPO`, then paste
the printed hashes below) or an operator approves one snapshot with
`models.<name>.trust_snapshot_sha256` (docs/usage.md "Configuration", docs/cosmos_embed1.md say how).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    repo_id: str
    revision: str
    # path inside the snapshot -> sha256 of the code we run from it; None = not recorded yet
    code_sha256: Mapping[str, str] | None = None
    # What a download fetches, approximately (from the model card's file listing); None = not known.
    download_bytes: int | None = None


INTERNVIDEO2 = Pin("OpenGVLab/InternVideo2-Stage2_1B-224p-f4", "4362e1f")
# Only the tokenizer and config: the BERT weights the model uses are inside the InternVideo2 .pt.
BERT_LARGE_TOKENIZER = Pin("google-bert/bert-large-uncased", "6da4b6a")
# Cosmos-Embed1: five safetensors shards of ~490 MB each, ~2.4 GB (the 336p card's file listing; the three
# variants are the same ~1B-parameter model). InternVideo2's .pt size was never verified: unknown.
COSMOS_EMBED1_BYTES = 2_400_000_000
COSMOS_EMBED1: dict[str, Pin] = {
    "224p": Pin("nvidia/Cosmos-Embed1-224p", "787e0b9", download_bytes=COSMOS_EMBED1_BYTES),
    "336p": Pin("nvidia/Cosmos-Embed1-336p", "0e8a28f", download_bytes=COSMOS_EMBED1_BYTES),
    "448p": Pin("nvidia/Cosmos-Embed1-448p", "f60ec73", download_bytes=COSMOS_EMBED1_BYTES),
}
