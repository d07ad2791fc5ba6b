"""hostscore: score contact-centre calls for connection, energy and satisfaction, with evidence.

    from scorer import Scorer
    scorer = Scorer()                      # faster-whisper base, CPU or GPU, bundled models
    result = scorer.score_file("call.wav") # or scorer.score_conversation({"turns": [...]})
    result.scores["satisfaction"].score, result.outcome.status, result.to_dict()
"""

from __future__ import annotations

from importlib import import_module

# The names are imported on first use: `hostscore` (scorer.cli) then starts without numpy, torch and
# the pipeline, whose import takes seconds, so a Ctrl-C while they load reaches the command's own
# handler (one line) instead of a traceback from the import.
_EXPORTS = {"Audio": "audio", "AudioError": "audio", "load_audio": "audio", "AGENT": "conversation",
            "CUSTOMER": "conversation", "Conversation": "conversation", "Turn": "conversation",
            "Word": "conversation", "Scorer": "pipeline", "SCHEMA_VERSION": "result", "CallResult": "result"}

__all__ = [*_EXPORTS, "score_conversation", "score_file"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def score_file(path, **options) -> CallResult:
    """Score one recording with a fresh Scorer (load a ``Scorer`` once to score many)."""
    from .pipeline import Scorer

    return Scorer(**options).score_file(path)


def score_conversation(data: dict, **options) -> CallResult:
    from .pipeline import Scorer

    return Scorer(**options).score_conversation(data)
