"""Training data: the team's contact-centre corpus (in the package) and EmoryNLP (from shared data).

The split is by scenario, never by single line: every corpus row names its scenario (a run of
consecutive lines written about one situation, or one conversation), and a stable hash of the
scenario puts all of its rows on one side, so adding rows never moves existing ones and no situation
is seen in training and in test alike. A test row that repeats a training row word for word or
nearly (token Jaccard >= 0.8) is dropped: it would measure memory, not skill.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ..conversation import AGENT, CUSTOMER
from ..heads import DERIVED_HEADS, HEADS, asks_question
from ..outcome import STATUSES

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "corpus"
# One share for utterances and conversations, so a scenario named in both lands on the same side.
TEST_SHARE = 0.25
NEAR_DUPLICATE_JACCARD = 0.8

# The heads every corpus utterance is labelled for (arousal comes from EmoryNLP only).
CORPUS_HEADS = tuple(h for h in HEADS if h != "arousal" and h not in DERIVED_HEADS)
UTTERANCE_FIELDS = ("id", "industry", "scenario", "party", "text", *CORPUS_HEADS)
CONVERSATION_FIELDS = ("id", "industry", "scenario", "outcome", "ending", "satisfaction", "connection", "energy", "turns")
ENDINGS = ("thanks", "neutral", "angry")
RATINGS = (1, 2, 3, 4, 5)

# EmoryNLP's Feeling-Wheel emotions mapped to valence and arousal.
EMORY_SENTIMENT = {"Joyful": "positive", "Peaceful": "positive", "Powerful": "positive",
                   "Mad": "negative", "Scared": "negative", "Sad": "negative", "Neutral": "neutral"}
EMORY_AROUSAL = {"Joyful": "high", "Mad": "high", "Scared": "high", "Powerful": "high",
                 "Peaceful": "low", "Sad": "low", "Neutral": "low"}


def in_test(scenario: str, share: float = TEST_SHARE) -> bool:
    digest = hashlib.sha1(scenario.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


@dataclass
class Example:
    id: str
    text: str
    party: str
    labels: dict[str, str]  # head -> class, only for the heads this example is labelled for
    test: bool
    source: str
    scenario: str  # rows of one scenario are always on the same side of the split


def utterance_problems(row: dict) -> list[str]:
    """What is wrong with one corpus utterance row (empty when it is valid)."""
    problems = [f"missing {f}" for f in UTTERANCE_FIELDS if f not in row]
    if problems:
        return problems
    if row["party"] not in (AGENT, CUSTOMER):
        problems.append(f"party {row['party']!r}")
    if not str(row["text"]).strip() or not str(row["scenario"]).strip():
        problems.append("empty text or scenario")
    problems += [f"{h} {row[h]!r} not in {HEADS[h]}" for h in CORPUS_HEADS if str(row[h]) not in HEADS[h]]
    return problems


def conversation_problems(row: dict) -> list[str]:
    """What is wrong with one corpus conversation row (empty when it is valid)."""
    problems = [f"missing {f}" for f in CONVERSATION_FIELDS if f not in row]
    if problems:
        return problems
    if row["outcome"] not in STATUSES:
        problems.append(f"outcome {row['outcome']!r}")
    if row["ending"] not in ENDINGS:
        problems.append(f"ending {row['ending']!r}")
    problems += [f"{q} {row[q]!r} not 1-5" for q in ("satisfaction", "connection", "energy") if row[q] not in RATINGS]
    if len(row["turns"]) < 2 or any(t.get("speaker") not in (AGENT, CUSTOMER) or not str(t.get("text", "")).strip()
                                    for t in row["turns"]):
        problems.append("turns must be two or more {speaker: AGENT|CUSTOMER, text}")
    return problems


def read_rows(paths: list[Path], problems) -> list[dict]:
    """Every row of the JSON Lines files, checked; a bad row or a repeated id stops training with its place."""
    rows, seen = [], set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            found = problems(row) + ([f"id {row.get('id')!r} repeated"] if row.get("id") in seen else [])
            if found:
                raise ValueError(f"{path.name}:{number}: " + "; ".join(found))
            seen.add(row["id"])
            rows.append(row)
    return rows


def words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9']+", text.lower()))


def repeats_training(texts: list[str], test: list[bool]) -> np.ndarray:
    """For each row: True where it is on the test side and a training row has (nearly) the same words
    (token Jaccard >= 0.8; identical after lower-casing and dropping punctuation is 1.0)."""
    sets = [words(t) or frozenset([t.strip()]) for t in texts]
    vocabulary = {w: i for i, w in enumerate(sorted(set().union(*sets)))} if sets else {}
    rows = [i for i, s in enumerate(sets) for _ in s]
    cols = [vocabulary[w] for s in sets for w in s]
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), len(vocabulary)))
    sizes = np.array([len(s) for s in sets], dtype=float)
    test = np.asarray(test, dtype=bool)
    train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
    repeated = np.zeros(len(sets), dtype=bool)
    for start in range(0, len(test_idx), 256):  # in blocks: the full test x train matrix can be large
        block = test_idx[start:start + 256]
        shared = (matrix[block] @ matrix[train_idx].T).toarray()
        jaccard = shared / (sizes[block, None] + sizes[None, train_idx] - shared)
        repeated[block] = (jaccard >= NEAR_DUPLICATE_JACCARD).any(axis=1) if len(train_idx) else False
    return repeated


def drop_test_duplicates(examples: list[Example]) -> list[Example]:
    """The examples without the test rows that repeat a training row (see ``repeats_training``)."""
    repeated = repeats_training([e.text for e in examples], [e.test for e in examples])
    return [e for e, r in zip(examples, repeated) if not r]


def utterances(corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    """Every ``utterances_*.jsonl`` row, split by scenario, test-side repeats of training rows dropped."""
    rows = read_rows(sorted(corpus_dir.glob("utterances_*.jsonl")), utterance_problems)
    return drop_test_duplicates([
        Example(id=row["id"], text=row["text"], party=row["party"], labels=utterance_labels(row),
                test=in_test(row["scenario"]), source="hostscore-corpus", scenario=row["scenario"])
        for row in rows
    ])


def utterance_labels(row: dict) -> dict[str, str]:
    """A corpus line's labels, with the exploring head's where the line is an agent question."""
    labels = {h: str(row[h]) for h in CORPUS_HEADS}
    if row["party"] == AGENT and asks_question(row["text"]):
        labels["exploring"] = labels["empathy"]
    return labels


def shared_data_dir() -> Path:
    return Path(os.environ.get("HOSTSCORE_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def emorynlp(directory: Path | None = None) -> list[Example]:
    """EmoryNLP (Apache-2.0): its own train+dev for training, its test set for testing; a scene is a scenario."""
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
                    scenario=f"emorynlp-s{row['Season']}e{row['Episode']}-scene{row['Scene_ID']}",
                ))
    return drop_test_duplicates(examples)


def conversations(corpus_dir: Path = CORPUS_DIR) -> list[dict]:
    """Every ``conversations*.jsonl`` row with ``test`` set by its scenario; a test conversation whose
    words nearly repeat a training conversation's is dropped."""
    rows = read_rows(sorted(corpus_dir.glob("conversations*.jsonl")), conversation_problems)
    for row in rows:
        row["test"] = in_test(row["scenario"])
    repeated = repeats_training([" ".join(t["text"] for t in row["turns"]) for row in rows], [row["test"] for row in rows])
    return [row for row, r in zip(rows, repeated) if not r]
