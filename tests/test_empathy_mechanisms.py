"""Connection on one reply to someone who is struggling, by empathy mechanism.

`empathy_mechanisms.jsonl`: 60 posts (two thirds personal hardship in the style of support forums, a
third upset customers) with 4-5 replies each, every reply labelled 0/1/2 for emotional reactions,
interpretations and explorations (EPITOME's framework, Sharma et al. 2020). The team wrote it apart
from the training corpus, after the explorations weakness was reported on human-rated data: replies
that ask about the person's situation scored lower than replies that did not. Each (post, reply) is
scored as a two-turn text call; connection must rank replies showing a mechanism above those without.
Explorations ranked below chance (0.465) until connection read agent questions with a head of their own
(`exploring`): the empathy head, trained on every line, hears little in "What happened?".
"""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

PROBE = Path(__file__).parent / "empathy_mechanisms.jsonl"
MECHANISMS = ("emotional_reactions", "interpretations", "explorations")


@pytest.fixture(scope="module")
def scored(scorer):
    rows = [json.loads(line) for line in PROBE.read_text().splitlines()]
    results = scorer.score_conversations([{"turns": [{"speaker": "CUSTOMER", "text": r["seeker"]},
                                                     {"speaker": "AGENT", "text": r["response"]}]} for r in rows])
    return rows, np.array([r.scores["connection"].score for r in results])


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_each_mechanism_raises_connection(scored, mechanism):
    rows, connection = scored
    shown = np.array([r[mechanism] >= 1 for r in rows])
    auc = roc_auc_score(shown, connection)
    print(f"{mechanism}: AUC {auc:.3f} ({shown.sum()} replies show it, {(~shown).sum()} do not)")
    assert auc >= 0.6, f"connection ranks replies showing {mechanism} above the others only {auc:.0%} of the time"


def test_empathic_replies_rank_above_replies_without_any(scored):
    rows, connection = scored
    any_shown = np.array([max(r[m] for m in MECHANISMS) >= 1 for r in rows])
    auc = roc_auc_score(any_shown, connection)
    print(f"any mechanism: AUC {auc:.3f}")
    assert auc >= 0.85


LAID_OFF = "I got laid off today after 8 years at the same company. I have a mortgage and two kids and I have no idea how to tell my wife."


def test_asking_what_happened_is_listening_and_a_brush_off_question_is_still_one(scorer):
    """The dismissive head hears any short reply as a brush-off: "What happened?" read 0.64 and scored
    connection 23, near a bare "Okay." (14). A question clearly asking what the person is going through
    is not charged as one; a brush-off said as a question still is."""
    def reply(text):
        return scorer.score_conversation({"turns": [{"speaker": "CUSTOMER", "text": LAID_OFF}, {"speaker": "AGENT", "text": text}]})

    def dismissiveness(result):
        return next(e for e in result.scores["connection"].evidence if e.feature == "dismissiveness")

    okay = reply("Okay.").scores["connection"].score
    for asking in ("What happened?", "How are you holding up?"):
        result = reply(asking)
        assert result.scores["connection"].score >= okay + 25, asking
        assert dismissiveness(result).effect >= 0, asking
    for brush_off in ("I'm sorry you feel that way, is there anything else?", "Have you tried clearing your cache? That fixes most issues."):
        charged = dismissiveness(reply(brush_off))
        assert charged.effect < 0 and charged.moments[0].quote == brush_off, brush_off
