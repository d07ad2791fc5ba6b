"""Turn-level classifier heads on the MiniLM encoder.

Each head is a multinomial logistic regression over the sentence embedding, VADER's four scores
and a party flag. The weights are a few kilobytes of JSON shipped in ``scorer/data/heads.json``
and rebuilt by ``hostscore train``; inference is a matrix product, no pickles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .conversation import AGENT
from .encoder import embed, split_text

HEADS_PATH = Path(__file__).parent / "data" / "heads.json"

# head -> its classes; the first class is the "nothing to see" value.
HEADS: dict[str, tuple[str, ...]] = {
    "sentiment": ("neutral", "negative", "positive"),
    "arousal": ("low", "high"),
    "empathy": ("0", "1"),
    "politeness": ("neutral", "rude", "polite"),
    "personalisation": ("0", "1"),
    "outcome": ("none", "resolved", "deferred", "transfer"),
    "effort": ("0", "1"),
    "gratitude": ("0", "1"),
    "dismissive": ("0", "1"),
    "proactive": ("0", "1"),
    # an agent question that asks about the customer's situation or feelings ("what happened?", "how are
    # you holding up?") against a factual one ("and your postcode?"): trained and read on agent questions
    # only (``asks_question``), where the empathy head, trained on every line, hears too little in them
    "exploring": ("0", "1"),
}
# The heads a corpus line's own labels do not carry: exploring is the empathy label of agent questions.
DERIVED_HEADS = ("exploring",)

# A question: a sentence with a question mark, or one opening as questions do (Whisper and people
# writing fast leave the mark off: "how are the kids coping", "is anyone with you"). An opening word alone
# is not enough: "What I can do is...", "When a fixed tariff ends...", "Have a great day." and "What a
# nightmare." are statements, so a wh-word counts when a verb or a question's next word follows it, and a
# verb first when its subject does.
_AUXILIARY = r"(?:do|does|did|are|is|was|were|am|have|has|had|can|could|would|will|should|shall|may|might)(?:n't)?"
_PERSON = r"(?:i|you|we|they|he|she|it)"
_SUBJECT = (rf"(?:{_PERSON}|that|this|there|these|those|the|your|my|our|his|her|their|any|"
            r"anyone|anybody|anything|someone|somebody|everyone|everything)")
QUESTION = re.compile(
    r"\?|(?:^|[.!]\s+)(?:"
    rf"(?:what|how|why|when|where)(?:'re|'d)?\s+(?:{_AUXILIARY}|else|about|happened|went|made|makes|kind|sort|"
    rf"time|long|much|many|often|come|old|far|soon|exactly|\w+ing)\b"
    rf"|(?:what|how|why|when|where)'s\b|which\b|who\b"
    rf"|(?:what|how)\s+(?!(?:{_PERSON}|a|an|the)\b)\w+\s+{_AUXILIARY}\b"  # "what make is the boiler"
    rf"|{_AUXILIARY}\s+{_SUBJECT}\b)", re.IGNORECASE)


def asks_question(text: str) -> bool:
    return bool(QUESTION.search(text))


def in_proportion(reading, threshold: float, margin: float):
    """1 where a reading (a head's probability, a cosine) is ``margin`` over ``threshold``, 0 as far
    below, in proportion between: a reading that moves by 1e-4 (another CPU's kernels) moves what it
    decides as little, not all of it across a hard line."""
    return np.clip((np.asarray(reading) - threshold + margin) / (2 * margin), 0.0, 1.0)


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_scores(texts: list[str]) -> np.ndarray:
    """VADER's (neg, neu, pos, compound) per text: a lexicon signal the encoder can lean on.
    A long text is scored in the encoder's chunks and averaged by length: VADER's time grows with
    the square of a text's length."""
    analyzer = _vader()
    out = np.zeros((len(texts), 4), dtype=np.float32)
    for i, text in enumerate(texts):
        chunks = split_text(text)
        rows = np.array([[r["neg"], r["neu"], r["pos"], r["compound"]]
                         for r in (analyzer.polarity_scores(chunk) for chunk, _ in chunks)], dtype=np.float32)
        out[i] = np.array([n for _, n in chunks], dtype=np.float32) @ rows / sum(n for _, n in chunks)
    return out


def features(texts: list[str], parties: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
    if embeddings is None:
        embeddings = embed(texts)
    party = np.array([[1.0 if p == AGENT else 0.0] for p in parties], dtype=np.float32).reshape(-1, 1)
    return np.hstack([embeddings, vader_scores(texts), party])


@dataclass
class Head:
    name: str
    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        logits = x @ self.coef.T + self.intercept
        if len(self.classes) == 2 and logits.shape[1] == 1:  # sklearn's binary form
            logits = np.hstack([-logits / 2, logits / 2])
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


@dataclass
class TurnSignals:
    """Per-turn class probabilities for every head: ``probs[head]`` has shape (turns, classes)."""

    probs: dict[str, np.ndarray]
    embeddings: np.ndarray
    heads: dict[str, Head] | None = None  # the heads that judged them, to judge joined turns alike

    def p(self, head: str, cls: str) -> np.ndarray:
        return self.probs[head][:, HEADS[head].index(cls)]

    def label(self, head: str, i: int) -> str:
        return HEADS[head][int(np.argmax(self.probs[head][i]))]

    def for_groups(self, groups: list[list[int]], texts: list[str], parties: list[str]) -> TurnSignals:
        """Signals for groups of turns judged as one (``texts``/``parties``: one per group): a group of
        one turn keeps that turn's signals; a longer group is judged anew by the same heads."""
        fresh = [k for k, g in enumerate(groups) if len(g) > 1]
        rows = np.array([g[0] for g in groups], dtype=int)
        probs = {h: p[rows] if len(rows) else p[:0] for h, p in self.probs.items()}
        embeddings = self.embeddings[rows] if len(rows) else self.embeddings[:0]
        if fresh:
            joined = predict([texts[k] for k in fresh], [parties[k] for k in fresh], self.heads)
            for h in probs:
                probs[h][fresh] = joined.probs[h]
            embeddings[fresh] = joined.embeddings
        return TurnSignals(probs, embeddings, self.heads)


def save_heads(heads: dict[str, Head], path: Path = HEADS_PATH, meta: dict | None = None) -> None:
    data = {
        "meta": meta or {},
        "heads": {
            h.name: {"classes": list(h.classes), "coef": h.coef.round(6).tolist(), "intercept": h.intercept.round(6).tolist()}
            for h in heads.values()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@lru_cache(maxsize=4)
def load_heads(path: Path = HEADS_PATH) -> dict[str, Head]:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing: run `hostscore train` to build the turn heads")
    data = json.loads(Path(path).read_text())["heads"]
    return {
        name: Head(name, tuple(h["classes"]), np.array(h["coef"], dtype=np.float32), np.array(h["intercept"], dtype=np.float32))
        for name, h in data.items()
    }


# Hesitations Whisper writes out on some calls and not others ("um, you know, it's not making any..."):
# the heads learned from written lines and read them as unease (one calm line, "so I'm not terrified":
# 0.48 negative without them, 0.81 with). A line of nothing else keeps them: "um." is all it says.
FILLERS = re.compile(r"(?:,\s*)?(?<![\w'-])(?:u+m+|u+h+|e+r+m+|u+h+m+)(?![\w'-]),?|\byou know,", re.IGNORECASE)


def without_fillers(text: str) -> str:
    cleaned = re.sub(r"(?:\s*,)+", ",", re.sub(r"\s+", " ", FILLERS.sub("", text))).strip(" ,")
    return cleaned if re.search(r"\w", cleaned) else text


def predict(texts: list[str], parties: list[str], heads: dict[str, Head] | None = None) -> TurnSignals:
    heads = heads or load_heads()
    texts = [without_fillers(t) for t in texts]
    embeddings = embed(texts)
    x = features(texts, parties, embeddings)
    probs = {name: head.predict_proba(x) for name, head in heads.items()}
    if "exploring" in probs:  # read on questions only: a statement asks about nothing
        probs["exploring"][[not asks_question(t) for t in texts]] = (1.0, 0.0)
    return TurnSignals(probs=probs, embeddings=embeddings, heads=heads)
