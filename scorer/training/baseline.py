"""The trivial baselines the models must beat: VADER for sentiment, phrase lists for the other heads,
and for whole conversations the customer's closing thanks and the mean VADER compound.

They are what a team would build in an afternoon without a model, kept so the model card can show
what the models add on the same split.
"""

from __future__ import annotations

import re

from ..conversation import CUSTOMER
from ..heads import vader_scores

KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "empathy": {"1": ("sorry to hear", "i understand", "frustrating", "i apologi", "that must", "that sounds", "i can imagine")},
    "politeness": {
        "polite": ("please", "thank", "appreciate", "happy to", "would you mind", "kindly"),
        "rude": ("ridiculous", "stupid", "shut up", "whatever", "useless", "idiot", "not my problem", "listen to me"),
    },
    "personalisation": {"1": ("you mentioned", "you said", "as you said", "your order", "your account", "mr.", "mrs.", "ms.")},
    "outcome": {
        "resolved": ("fixed", "resolved", "sorted", "working now", "processed", "refunded", "all set", "done"),
        "deferred": ("get back to you", "call you back", "business days", "follow up", "within 24", "within 48", "email you", "look into"),
        "transfer": ("transfer", "put you through", "supervisor", "manager", "specialist", "another department"),
    },
    "effort": {"1": ("again", "already", "third time", "second time", "on hold", "transferred", "repeat", "keep calling")},
    "gratitude": {"1": ("thank", "thanks", "appreciate", "grateful")},
    "dismissive": {"1": ("nothing i can do", "not my", "policy", "should have", "calm down", "not our problem", "can't help")},
    "proactive": {"1": ("let me", "i'll", "i will", "i can", "go ahead", "right away", "what i can do")},
    "exploring": {"1": ("what happened", "how are you", "how do you feel", "are you ok", "are you safe", "how long have you",
                        "what worries", "how is", "how are the")},
    "arousal": {"high": ("!", "oh my god", "what", "wow", "hate", "love", "scared", "angry")},
}


def predict(head: str, texts: list[str]) -> list[str]:
    if head == "sentiment":
        compound = vader_scores(texts)[:, 3]
        return ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compound]
    default = {"politeness": "neutral", "outcome": "none", "arousal": "low"}.get(head, "0")
    out = []
    for text in texts:
        lowered = text.lower()
        label = default
        for cls, phrases in KEYWORDS[head].items():
            if any(re.search(re.escape(p), lowered) for p in phrases):
                label = cls
                break
        out.append(label)
    return out


def thanked_at_close(turns: list[dict]) -> float:
    """1 when the customer says "thank" in the last three turns of the conversation, else 0."""
    return float(any(t["speaker"] == CUSTOMER and "thank" in t["text"].lower() for t in turns[-3:]))


def mean_vader(turns: list[dict]) -> float:
    """The mean VADER compound of every turn: how positive the conversation reads to a lexicon."""
    return float(vader_scores([t["text"] for t in turns])[:, 3].mean())
