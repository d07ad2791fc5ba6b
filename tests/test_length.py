"""Scores survive real calls: fragments, backchannels, long turns and call length.

Real calls are 3-15 minutes and 50-200 turns, cut by Whisper and diarization at breaths and around
the other party's "mm-hmm". A score must not change because a call is longer, and a one-word
fragment must not carry a full judgement.
"""

import json

import numpy as np
import pytest

from scorer.conversation import from_dict
from scorer.encoder import MAX_PIECES, embed, split_text
from scorer.heads import vader_scores
from scorer.qualities import build_units
from scorer.training.corpus import CORPUS_DIR

A, C = "AGENT", "CUSTOMER"
REPEATS = 5
MAX_DRIFT = 5.0  # points

# A real-call-like auto-repair call: Whisper fragments, backchannels and confirmations over the
# other party, times in ms. (speaker, text, begin, end)
FRAGMENTED_OPENING = [
    (A, "Thank you for calling Riverside Auto, this is Jenna.", 0, 2600),
    (C, "Hi, yeah, my check engine light came on this morning", 3000, 5600),
    (A, "Mm-hmm.", 5500, 5900),
    (C, "and the car's kind of shaking when I stop at lights.", 6000, 8800),
    (A, "Okay, I'm sorry, that's unsettling.", 9200, 11000),
    (A, "Let's get it looked at. What's the car, and roughly how many miles?", 11400, 13200),
]
# The neutral middle: details of the car, given and confirmed, and the agent explaining. It asks the
# customer nothing: said five times, a question is the agent asking again what was answered, which
# the customer rightly feels as effort (as five holds or five restatements of the problem would be).
FRAGMENTED_MIDDLE = [
    (C, "It's a Honda Civic,", 13600, 14800),
    (C, "a 2019.", 15100, 15800),
    (A, "A 2019.", 15700, 16200),
    (A, "Got", 16400, 16600),
    (A, "it. Civics that age often need new plugs about now.", 16600, 19000),
    (C, "About forty thousand miles.", 19400, 21200),
    (A, "OK.", 21400, 21700),
    (A, "A steady light means it's safe to drive in.", 22000, 24200),
    (C, "Steady, yeah.", 24600, 25400),
]
FRAGMENTED_CLOSE = [
    (A, "Great. I can get you in tomorrow at nine, and the diagnostic is free if we do the repair.", 26200, 31000),
    (C, "Oh, that works. Okay, great.", 31400, 33000),
    (A, "You're all set for nine tomorrow. Anything else?", 33400, 35600),
    (C, "No, that's it. Bye.", 36000, 37200),
]


def timed_call(opening, middle, close, repeats: int) -> dict:
    """``middle`` said ``repeats`` times, every later turn shifted so the times stay consecutive."""
    span = middle[-1][3] - middle[0][2] + 600
    turns = [{"speaker": s, "text": t, "begin_ms": b, "end_ms": e} for s, t, b, e in opening]
    for r in range(repeats):
        turns += [{"speaker": s, "text": t, "begin_ms": b + r * span, "end_ms": e + r * span} for s, t, b, e in middle]
    shift = (repeats - 1) * span
    turns += [{"speaker": s, "text": t, "begin_ms": b + shift, "end_ms": e + shift} for s, t, b, e in close]
    return {"turns": turns}


def corpus_call(call_id: str) -> dict:
    for line in (CORPUS_DIR / "conversations.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["id"] == call_id:
            return row
    raise KeyError(call_id)


def with_middle_repeated(call: dict, begin: int, end: int, repeats: int) -> dict:
    turns = call["turns"]
    return {"turns": turns[:begin] + turns[begin:end] * repeats + turns[end:]}


def assert_scores_hold(scorer, short: dict, long: dict):
    a, b = scorer.score_conversation(short), scorer.score_conversation(long)
    for q, score in a.scores.items():
        assert abs(score.score - b.scores[q].score) < MAX_DRIFT, (
            q, score.score, b.scores[q].score, score.features, b.scores[q].features)


# The repeated middle is neutral: details given, an explanation. A middle with a hold, the customer
# restating their problem or the agent asking for something is not neutral: said five times, it is
# five holds, a customer repeating themselves or an agent asking again what was answered, which a
# supervisor would rightly hear as more effort.


@pytest.mark.parametrize("call_id, begin, end", [
    ("c-001", 3, 5),   # a resolved call: the account check answered, the agent explains what went wrong
    ("c-085", 3, 5),   # a deferred one: the reference given, the agent says where the application is
])
def test_repeating_the_middle_of_a_corpus_call_five_times_moves_no_score_by_5_points(scorer, call_id, begin, end):
    call = corpus_call(call_id)
    assert_scores_hold(scorer, call, with_middle_repeated(call, begin, end, REPEATS))


def test_repeating_the_middle_of_a_fragmented_call_five_times_moves_no_score_by_5_points(scorer):
    short = timed_call(FRAGMENTED_OPENING, FRAGMENTED_MIDDLE, FRAGMENTED_CLOSE, 1)
    long = timed_call(FRAGMENTED_OPENING, FRAGMENTED_MIDDLE, FRAGMENTED_CLOSE, REPEATS)
    assert len(long["turns"]) >= 50
    assert_scores_hold(scorer, short, long)


def test_fragments_split_by_short_pauses_and_backchannels_are_joined():
    units = build_units(from_dict(timed_call(FRAGMENTED_OPENING, FRAGMENTED_MIDDLE, FRAGMENTED_CLOSE, 1)))
    said = [(u.speaker, u.text, u.backchannel) for u in units]
    # the customer's sentence, cut by the agent's "mm-hmm", is one unit; the "mm-hmm" is listening
    assert (C, "Hi, yeah, my check engine light came on this morning and the car's kind of shaking when I stop at lights.",
            False) in said
    assert (A, "Mm-hmm.", True) in said
    assert (A, "Okay, I'm sorry, that's unsettling. Let's get it looked at. What's the car, and roughly how many miles?",
            False) in said
    assert (C, "It's a Honda Civic, a 2019.", False) in said
    # the agent's confirmation and what it goes on to say, cut after "Got", are one unit
    assert (A, "A 2019. Got it. Civics that age often need new plugs about now.", False) in said


def test_text_turns_without_times_are_joined_only_when_one_party_speaks_twice_in_a_row():
    units = build_units(from_dict({"turns": [
        {"speaker": A, "text": "How can I help?"}, {"speaker": C, "text": "Okay."},
        {"speaker": A, "text": "Sorry, go on."}, {"speaker": A, "text": "I'm listening."}]}))
    assert [(u.speaker, u.text, u.backchannel) for u in units] == [
        (A, "How can I help?", False), (C, "Okay.", False), (A, "Sorry, go on. I'm listening.", False)]


def test_a_one_word_fragment_does_not_brush_the_customer_off(scorer):
    result = scorer.score_conversation(timed_call(FRAGMENTED_OPENING, FRAGMENTED_MIDDLE, FRAGMENTED_CLOSE, 1))
    connection = result.scores["connection"]
    for e in connection.evidence:
        if e.effect < 0 and e.feature in ("dismissiveness", "politeness"):
            assert all(len(m.quote.split()) > 2 for m in e.moments), e
    assert connection.score > 50


def test_a_long_turn_is_split_for_the_encoder_not_truncated():
    weather = "The weather was lovely on the coast this weekend and we walked along the beach for hours. " * 20
    billing = "I was charged twice for my phone bill and the refund still has not arrived in my account. " * 20
    chunks = split_text(weather + billing)
    assert len(chunks) >= 3 and all(n <= MAX_PIECES for _, n in chunks)
    assert " ".join(c for c, _ in chunks).split() == (weather + billing).split()
    whole, first, last = embed([weather + billing, weather, billing])
    # the pooled embedding carries both halves; a truncated one would carry only the weather
    assert whole @ last > 0.6 and whole @ first > 0.6
    # and so does the lexicon score: the complaint at the end counts
    assert vader_scores([weather + billing])[0, 0] > vader_scores([weather])[0, 0] + 0.02


def test_a_very_long_turn_is_scored(scorer):
    # about 18,000 characters: 4,000 word pieces, 16 times what the encoder reads at once
    turn = "So I rang again on Monday and they said it would be fixed by Friday, but nothing happened. " * 200
    result = scorer.score_conversation({"turns": [
        {"speaker": A, "text": "How can I help?"}, {"speaker": C, "text": turn},
        {"speaker": A, "text": "I'm so sorry, that sounds exhausting. Let me fix it now."}]})
    assert np.isfinite(result.scores["satisfaction"].score)


BOOKING = [(C, "Hi, I'd like to book a service for my car next week, the brakes have been squeaking."),
           (A, "Of course, happy to help you with that. Squeaking brakes are no fun. What's the make and model?"),
           (C, "It's a 2018 Tesla Model S."),
           (A, "Thanks. I understand you want it sorted quickly, so let's find a time that works for you."),
           (C, "Thursday morning would suit me best."),
           (A, "Thursday at nine is free. Could you spell your surname for me?")]
BOOKING_CLOSE = [(C, "Great, thanks so much."), (A, "You're welcome, have a lovely day.")]


def test_a_one_word_fragment_does_not_decide_which_replies_show_acknowledgement(scorer):
    """A calm customer's "Sorry?" (they did not hear) reads 0.78 negative. As a one-word fragment it
    cannot make the call one with an upset customer, whose acknowledgement is only the replies to
    that upset: it had made acknowledgement hang on the agent repeating the question (0.28 to 0.04) and
    cost 13 points of connection."""
    def booking(*extra):
        turns = BOOKING + list(extra) + BOOKING_CLOSE
        return scorer.score_conversation({"turns": [{"speaker": s, "text": t} for s, t in turns]})

    calm = booking().scores["connection"]
    asked_again = booking((C, "Sorry?"), (A, "Could you spell your surname for me, please?")).scores["connection"]
    assert asked_again.features["acknowledgement"] > calm.features["acknowledgement"] / 2
    assert abs(asked_again.score - calm.score) < MAX_DRIFT, (calm.features, asked_again.features)
