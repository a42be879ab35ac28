"""Lower-case WordPiece tokenizer for bert-large-uncased, via the `tokenizers` library.

Behaves as the official InternVideo2 tokenizer (its own copy of HF's BertTokenizer,
which NeMo Curator used too): lower-case with accents stripped, ``[CLS] tokens`` with
**no trailing [SEP]** (the copy's ``build_inputs_with_special_tokens`` drops it, and the
model was trained that way), truncated and padded (id 0) to exactly ``max_length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer
from tokenizers.processors import TemplateProcessing

PAD_TOKEN = "[PAD]"
CLS_TOKEN = "[CLS]"


@dataclass(frozen=True)
class TokenizedText:
    input_ids: torch.Tensor  # (B, max_length) int64
    attention_mask: torch.Tensor  # (B, max_length) int64, 1 for real tokens


class BertTokenizer:
    """Wraps a `tokenizers.Tokenizer` with padding and truncation to a fixed length."""

    def __init__(self, tokenizer: Tokenizer, *, max_length: int) -> None:
        pad_id, cls_id = tokenizer.token_to_id(PAD_TOKEN), tokenizer.token_to_id(CLS_TOKEN)
        if pad_id is None or cls_id is None:
            raise ValueError(f"the vocabulary lacks {PAD_TOKEN} or {CLS_TOKEN}")
        # Replaces the stock "[CLS] $A [SEP]" (also the one inside the hub's tokenizer.json).
        tokenizer.post_processor = TemplateProcessing(single=f"{CLS_TOKEN} $A", special_tokens=[(CLS_TOKEN, cls_id)])
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.enable_padding(length=max_length, pad_id=pad_id, pad_token=PAD_TOKEN)
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_vocab(cls, vocab_txt: Path, *, max_length: int = 40) -> BertTokenizer:
        """A bert-*-uncased ``vocab.txt`` (one token a line, line number = id)."""
        wordpiece = BertWordPieceTokenizer.from_file(
            str(vocab_txt), lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True
        )
        # BaseTokenizer keeps the real Tokenizer here; we only need that.
        return cls(wordpiece._tokenizer, max_length=max_length)

    @classmethod
    def from_path(cls, path: Path, *, max_length: int = 40) -> BertTokenizer:
        """A ``vocab.txt``, a ``tokenizer.json``, or a folder holding either
        (``tokenizer.json`` preferred: it is the hub's own serialisation)."""
        path = Path(path)
        if path.is_dir():
            for name in ("tokenizer.json", "vocab.txt"):
                if (path / name).is_file():
                    return cls.from_path(path / name, max_length=max_length)
            raise FileNotFoundError(f"no tokenizer.json or vocab.txt in {path}")
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer file not found: {path}")
        if path.suffix == ".json":
            return cls(Tokenizer.from_file(str(path)), max_length=max_length)
        return cls.from_vocab(path, max_length=max_length)

    def __call__(self, texts: list[str]) -> TokenizedText:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64).reshape(len(texts), self.max_length)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64).reshape(ids.shape)
        return TokenizedText(input_ids=ids, attention_mask=mask)
