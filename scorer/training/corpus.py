"""Training data: the team's contact-centre corpus (in the package) and EmoryNLP (from shared data).

The train/test split is fixed by a stable hash of each item's id, so adding rows never moves
existing ones between sides.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..conversation import CUSTOMER

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "corpus"
UTTERANCE_TEST_SHARE = 0.20
CONVERSATION_TEST_SHARE = 0.25

# EmoryNLP's Feeling-Wheel emotions mapped to valence and arousal.
EMORY_SENTIMENT = {"Joyful": "positive", "Peaceful": "positive", "Powerful": "positive",
                   "Mad": "negative", "Scared": "negative", "Sad": "negative", "Neutral": "neutral"}
EMORY_AROUSAL = {"Joyful": "high", "Mad": "high", "Scared": "high", "Powerful": "high",
                 "Peaceful": "low", "Sad": "low", "Neutral": "low"}


def in_test(item_id: str, share: float) -> bool:
    digest = hashlib.sha1(item_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


@dataclass
class Example:
    id: str
    text: str
    party: str
    labels: dict[str, str]  # head -> class, only for the heads this example is labelled for
    test: bool
    source: str


def utterances(corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    heads = ("sentiment", "empathy", "politeness", "personalisation", "outcome", "effort", "gratitude", "dismissive", "proactive")
    examples = []
    for path in sorted(corpus_dir.glob("utterances_*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            examples.append(Example(
                id=row["id"], text=row["text"], party=row["party"],
                labels={h: str(row[h]) for h in heads},
                test=in_test(row["id"], UTTERANCE_TEST_SHARE), source="hostscore-corpus",
            ))
    return examples


def shared_data_dir() -> Path:
    return Path(os.environ.get("HOSTSCORE_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def emorynlp(directory: Path | None = None) -> list[Example]:
    """EmoryNLP (Apache-2.0): its own train+dev for training, its test set for testing."""
    directory = directory or shared_data_dir() / "text" / "emorynlp"
    examples = []
    for split, test in (("train", False), ("dev", False), ("test", True)):
        path = directory / f"emorynlp_emorynlp_{split}_final.csv"
        if not path.exists():
            raise FileNotFoundError(f"EmoryNLP not found at {path} (set HOSTSCORE_SHARED_DATA or pass --emorynlp)")
        with path.open(newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f)):
                text = row["Utterance"].strip()
                if not text:
                    continue
                emotion = row["Emotion"]
                examples.append(Example(
                    id=f"emorynlp-{split}-{i}", text=text, party=CUSTOMER,
                    labels={"sentiment": EMORY_SENTIMENT[emotion], "arousal": EMORY_AROUSAL[emotion]},
                    test=test, source="emorynlp",
                ))
    return examples


def conversations(corpus_dir: Path = CORPUS_DIR) -> list[dict]:
    rows = [json.loads(line) for line in (corpus_dir / "conversations.jsonl").read_text().splitlines() if line.strip()]
    for row in rows:
        row["test"] = in_test(row["id"], CONVERSATION_TEST_SHARE)
    return rows
