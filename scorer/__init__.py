"""hostscore: score contact-centre calls for connection, energy and satisfaction, with evidence.

    from scorer import Scorer
    scorer = Scorer()                      # faster-whisper tiny.en, CPU or GPU, bundled models
    result = scorer.score_file("call.wav") # or scorer.score_conversation({"turns": [...]})
    result.scores["satisfaction"].score, result.outcome.status, result.to_dict()
"""

from .audio import Audio, AudioError, load_audio
from .conversation import AGENT, CUSTOMER, Conversation, Turn, Word
from .pipeline import Scorer
from .result import SCHEMA_VERSION, CallResult

__all__ = ["AGENT", "CUSTOMER", "Audio", "AudioError", "CallResult", "Conversation", "SCHEMA_VERSION", "Scorer",
           "Turn", "Word", "load_audio", "score_conversation", "score_file"]


def score_file(path, **options) -> CallResult:
    """Score one recording with a fresh Scorer (load a ``Scorer`` once to score many)."""
    return Scorer(**options).score_file(path)


def score_conversation(data: dict, **options) -> CallResult:
    return Scorer(**options).score_conversation(data)
