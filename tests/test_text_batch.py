"""Many text conversations scored together (the encoder batched across them) against one by one."""

import pytest

from scorer.outcome import STATUSES
from scorer.training.corpus import conversations

PROBABILITY_DRIFT = 0.02  # bfloat16 against float32, on any status's probability


@pytest.fixture(scope="module")
def dialogues() -> list[dict]:
    return conversations()[:16]


def test_batched_conversations_score_as_one_by_one(scorer, dialogues):
    alone = [scorer.score_conversation(c, call_id=str(k)) for k, c in enumerate(dialogues)]
    # a bad conversation in the middle fails alone; a batch smaller than the list splits it
    mixed = dialogues[:5] + [{"turns": []}] + dialogues[5:]
    ids = [str(k) for k in range(5)] + ["empty"] + [str(k) for k in range(5, len(dialogues))]
    together = scorer.score_conversations(mixed, ids, batch_size=8)
    assert isinstance(together[5], ValueError) and "turns" in str(together[5])
    del together[5]
    assert len(together) == len(alone)
    for one, many in zip(alone, together):
        assert many.id == one.id
        assert many.outcome.status == one.outcome.status
        for quality, score in one.scores.items():
            assert abs(many.scores[quality].score - score.score) <= 0.5, (one.id, quality)
        assert set(many.timings) == set(one.timings)


def test_a_failing_encoder_fails_each_waiting_conversation_and_none_hangs(scorer, dialogues, monkeypatch):
    import scorer.encoder as encoder

    def broken(texts, device="auto"):
        raise RuntimeError("encoder out of memory")

    monkeypatch.setattr(encoder, "_embed", broken)
    results = scorer.score_conversations(dialogues[:3])
    assert [type(r) for r in results] == [RuntimeError] * 3


def test_the_bfloat16_encoder_scores_within_a_point_of_float32(scorer, dialogues, monkeypatch):
    from scorer.settings import settings

    full = scorer.score_conversations(dialogues)
    monkeypatch.setenv("HOSTSCORE_ENCODER_PRECISION", "bfloat16")
    settings.cache_clear()  # settings are read once per process
    try:
        half = scorer.score_conversations(dialogues)
    finally:
        monkeypatch.delenv("HOSTSCORE_ENCODER_PRECISION")
        settings.cache_clear()
    # bfloat16 keeps 8 bits of mantissa: the embeddings move (cosine about 0.99998), the scores barely
    moved = [abs(h.scores[q].score - f.scores[q].score) for f, h in zip(full, half) for q in f.scores]
    assert 0 < max(moved) <= 1.0
    # the outcome's probabilities move as little; its status may only change where two were tied
    # (c-010: resolved 0.4371 against deferred 0.4349 in float32), and such a call scores between them
    drift = [abs(h.outcome.probabilities[s] - f.outcome.probabilities[s]) for f, h in zip(full, half) for s in STATUSES]
    assert max(drift) <= PROBABILITY_DRIFT
    clear = [k for k, f in enumerate(full) if _lead(f.outcome.probabilities) > 2 * PROBABILITY_DRIFT]
    assert len(clear) >= len(full) - 1
    assert [half[k].outcome.status for k in clear] == [full[k].outcome.status for k in clear]


def _lead(probabilities: dict[str, float]) -> float:
    first, second = sorted(probabilities.values(), reverse=True)[:2]
    return first - second
