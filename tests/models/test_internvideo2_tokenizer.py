"""The bert-large-uncased WordPiece tokenizer as InternVideo2 uses it, on a vocab made here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from video_assets.models.bert_tokenizer import BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "dog", "run", "##s", "##ning", "fast", "cafe", "!", "."]
ID = {token: i for i, token in enumerate(VOCAB)}


@pytest.fixture()
def vocab_txt(tmp_path: Path) -> Path:
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return path


def ids(*tokens: str) -> list[int]:
    return [ID[t] for t in tokens]


def test_lowercase_wordpiece_cls_only_and_padding(vocab_txt: Path) -> None:
    out = BertTokenizer.from_path(vocab_txt, max_length=8)(["A DOG Runs!", "running dogs."])
    assert out.input_ids.dtype == torch.int64 and out.input_ids.shape == (2, 8)
    # No [SEP]: the official InternVideo2 tokenizer appends only [CLS] in front.
    assert out.input_ids[0].tolist() == ids("[CLS]", "a", "dog", "run", "##s", "!") + [0, 0]
    assert out.input_ids[1].tolist() == ids("[CLS]", "run", "##ning", "dog", "##s", ".") + [0, 0]
    assert out.attention_mask.tolist() == [[1] * 6 + [0] * 2] * 2


def test_accents_stripped_unknown_words_and_empty_text(vocab_txt: Path) -> None:
    out = BertTokenizer.from_path(vocab_txt, max_length=5)(["Café zebra", ""])
    assert out.input_ids[0].tolist() == ids("[CLS]", "cafe", "[UNK]") + [0, 0]
    assert out.input_ids[1].tolist() == ids("[CLS]") + [0] * 4
    assert out.attention_mask[1].tolist() == [1, 0, 0, 0, 0]


def test_truncation_keeps_exactly_max_length(vocab_txt: Path) -> None:
    out = BertTokenizer.from_path(vocab_txt, max_length=4)(["a dog runs fast fast fast"])
    assert out.input_ids.tolist() == [ids("[CLS]", "a", "dog", "run")]
    assert out.attention_mask.tolist() == [[1, 1, 1, 1]]


def test_tokenizer_json_gets_the_same_cls_only_template(vocab_txt: Path, tmp_path: Path) -> None:
    """A hub tokenizer.json carries the stock "[CLS] $A [SEP]" template; ours replaces it."""
    reference = BertTokenizer.from_vocab(vocab_txt, max_length=8)
    folder = tmp_path / "bert"
    folder.mkdir()
    stock = json.loads(reference.tokenizer.to_str())
    stock["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", ID["[SEP]"]], "cls": ["[CLS]", ID["[CLS]"]]}
    (folder / "tokenizer.json").write_text(json.dumps(stock))
    (folder / "vocab.txt").write_text("[PAD]\n")  # would fail if it were picked over tokenizer.json
    texts = ["A dog runs fast", "cafe!"]
    from_json = BertTokenizer.from_path(folder, max_length=8)(texts)
    assert torch.equal(from_json.input_ids, reference(texts).input_ids)
    assert ID["[SEP]"] not in from_json.input_ids.tolist()[0]


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no tokenizer.json or vocab.txt"):
        BertTokenizer.from_path(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        BertTokenizer.from_path(tmp_path / "vocab.txt")
