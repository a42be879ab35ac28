"""Text-match scores for `texts_to_verify`, as NeMo Curator computes them.

probs = softmax(scale * v . t) over the candidate texts, with scale 100 by default
(the reference's fixed value); an embedder's own learned logit scale can be passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

REFERENCE_SCALE = 100.0


@dataclass(frozen=True)
class TextMatch:
    best_text: str
    best_prob: float
    probs: list[float]  # one per text, in the order given


def text_match(
    video_vectors: torch.Tensor, text_vectors: torch.Tensor, texts: list[str], *, scale: float = REFERENCE_SCALE
) -> list[TextMatch]:
    """video_vectors (B, D) and text_vectors (K, D), both unit norm -> one TextMatch per clip."""
    if text_vectors.shape[0] != len(texts):
        raise ValueError(f"{text_vectors.shape[0]} text vectors for {len(texts)} texts")
    if video_vectors.shape[1] != text_vectors.shape[1]:
        raise ValueError(f"video dim {video_vectors.shape[1]} != text dim {text_vectors.shape[1]}")
    probs = torch.softmax(scale * video_vectors.float() @ text_vectors.float().T, dim=-1)  # (B, K)
    best = probs.argmax(dim=-1)
    return [TextMatch(texts[int(j)], float(row[j]), [float(p) for p in row]) for row, j in zip(probs, best)]
