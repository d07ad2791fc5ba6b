"""The hosting qualities move the way their definitions say, on held-out and purpose-made calls."""

import pytest
from sklearn.metrics import f1_score, roc_auc_score

from scorer import heads, synth
from scorer.training import baseline, corpus
from scorer.synth import ScriptLine

A, C = "AGENT", "CUSTOMER"

UPSET = [
    "I've been without internet for three days and I work from home, I'm losing money here.",
    "My mother's prescription was sent to the wrong pharmacy and she's completely out of her heart medication.",
    "You charged me twice for the same flight and now my account is overdrawn.",
]
EMPATHETIC = [
    "Oh no, three days without internet when you work from home is really stressful, I'm so sorry. Let me get this sorted for you right now.",
    "I'm so sorry, that must be really worrying for you both. Let's get her medication moved to the right pharmacy straight away.",
    "I completely understand how upsetting that is, being overdrawn because of our mistake. I'm going to fix this with you now.",
]
DISMISSIVE = [
    "Well, outages happen. There's nothing I can do about it from here.",
    "That's not our department, you'll have to sort that out with the pharmacy yourself.",
    "You should have checked your statement before booking. It's not our problem.",
]


def conversation(customer_turn: str, reply: str) -> dict:
    return {"turns": [
        {"speaker": A, "text": "Thanks for calling, this is Alex, how can I help?"},
        {"speaker": C, "text": customer_turn},
        {"speaker": A, "text": reply},
        {"speaker": C, "text": "Okay."},
    ]}


@pytest.mark.parametrize("k", range(3))
def test_connection_rises_with_empathy_and_falls_with_dismissal(scorer, k):
    empathetic = scorer.score_conversation(conversation(UPSET[k], EMPATHETIC[k])).scores["connection"]
    dismissive = scorer.score_conversation(conversation(UPSET[k], DISMISSIVE[k])).scores["connection"]
    assert empathetic.score > dismissive.score + 15
    assert any(e.feature == "acknowledgement" and e.effect > 0 for e in empathetic.evidence)
    lowered = [e for e in dismissive.evidence if e.effect < 0]
    assert lowered and lowered[0].feature in ("dismissiveness", "acknowledgement")


def timed(overlap_ms: int) -> dict:
    """The same words; the agent either waits for the customer or cuts in ``overlap_ms`` early."""
    lines = [
        (A, "Thanks for calling, this is Alex, how can I help?", 3000),
        (C, "Hi, my card was declined at the supermarket even though there's money in the account, and I was so embarrassed.", 7000),
        (A, "Okay, let me have a look at your card for you.", 3000),
        (C, "It happened twice this week, and I really need to know it won't happen again tomorrow.", 6000),
        (A, "I can see the block, it was a fraud check. I've removed it now, so the card will work.", 5000),
        (C, "Thank you.", 1000),
    ]
    turns, clock = [], 0
    for speaker, text, length in lines:
        begin = clock - overlap_ms if speaker == A and turns else clock
        turns.append({"speaker": speaker, "text": text, "begin_ms": begin, "end_ms": begin + length})
        clock = begin + length + 400
    return {"turns": turns}


def test_connection_falls_when_the_agent_interrupts(scorer):
    polite = scorer.score_conversation(timed(0))
    interrupting = scorer.score_conversation(timed(2500))
    assert interrupting.characteristics.interruptions.counts[A] >= 2
    assert interrupting.scores["connection"].score < polite.scores["connection"].score - 5
    assert any(e.feature == "agent_interruptions" for e in interrupting.scores["connection"].evidence)


# Active listening (exploring the customer's feelings and situation, reflecting them back) against
# replies that are polite but move straight past what the customer said. Written for this test,
# not taken from the corpus.
LISTENING = [
    ("My dad went into hospital last week and I've been trying to sort out his bills on my own.",
     "How have you been coping with all of that on your own since last week?",
     "Okay. The bills are on the account page. Anything else?"),
    ("The boiler broke again on Sunday and the kids have had cold showers for three days.",
     "That sounds really draining, three days with no hot water and the kids at home. What's worrying you most right now?",
     "Boiler repairs are booked through the website."),
    ("I've been waiting all week for the refund and I've had to borrow money for rent.",
     "So you've been waiting all week and had to borrow for rent. That sounds really stressful.",
     "Refunds take five to seven working days."),
]


@pytest.mark.parametrize("k", range(len(LISTENING)))
def test_exploring_and_reflecting_the_customers_situation_raises_connection(scorer, k):
    customer, listening, moving_on = LISTENING[k]
    heard = scorer.score_conversation(conversation(customer, listening)).scores["connection"]
    passed_over = scorer.score_conversation(conversation(customer, moving_on)).scores["connection"]
    assert heard.score > passed_over.score + 5
    assert heard.features["acknowledgement"] > passed_over.features["acknowledgement"] + 0.3
    assert any(e.feature in ("acknowledgement", "builds_on_customer") and e.effect > 0 for e in heard.evidence)


def closing_call(last_words: str) -> dict:
    return {"turns": [
        {"speaker": A, "text": "Thanks for calling, how can I help?"},
        {"speaker": C, "text": "Hi, I'd like to move my delivery to Thursday, order 4410."},
        {"speaker": A, "text": "Done, it's moved to Thursday between 8 and 12, and you'll get a text the day before."},
        {"speaker": C, "text": last_words},
    ]}


def test_a_plain_bye_is_neutral_thanks_raises_and_anger_lowers_satisfaction(scorer):
    thanks, bye, angry = (scorer.score_conversation(closing_call(w)).scores["satisfaction"] for w in (
        "Great, thank you so much, bye.", "Okay, bye.", "This is ridiculous. Bye."))
    assert thanks.score > bye.score > angry.score
    assert not any(e.feature == "closing_gratitude" and abs(e.effect) >= 3 for e in bye.evidence)
    assert any(e.feature == "closing_gratitude" and e.effect > 0 for e in thanks.evidence)
    assert any(e.feature == "closing_gratitude" and e.effect < 0 for e in angry.evidence)


# --- energy from the voice -----------------------------------------------------------------------

AGENT_LINES = [
    "Thank you for calling Northwind Energy, my name is Sam, how can I help you today?",
    "Oh, I can definitely help with that. Let me pull up your account right now.",
    "Great news, I found the problem, and I've already fixed it for you.",
    "Is there anything else I can help you with today?",
]
CUSTOMER_LINES = [
    "Hi, my bill is much higher than usual this month.",
    "Sure, the account number is four four seven two one nine.",
    "Oh, wonderful, thank you.",
    "No, that's everything, thanks.",
]


def energy_script(lively: bool, dead_air_ms: int = 0) -> list[ScriptLine]:
    """The lively agent's turns alternate 3.5 semitones up and 2.5 down, 3 dB louder and quieter, from the
    same rendering as the flat agent's (one speed for both): at two speeds the two calls were two
    renderings, whose own turn-to-turn intonation differed by chance by as much as the shifts added to a
    party's pitch spread (lively 3.12 against flat 2.62 semitones, where the shifts alone add 0.6)."""
    lines = []
    for k, (agent, customer) in enumerate(zip(AGENT_LINES, CUSTOMER_LINES)):
        pitch = (350 if k % 2 == 0 else -250) if lively else 0
        gain = (3.0 if k % 2 == 0 else -3.0) if lively else 0.0
        lines.append(ScriptLine(A, agent, dead_air_ms if k == 2 else 400, 0.9, pitch, gain))
        lines.append(ScriptLine(C, customer, 400))
    return lines


@pytest.fixture(scope="module")
def energy_calls(calls_dir, scorer):
    made = {
        "lively": synth.make_call(energy_script(True), calls_dir / "energy_lively.wav"),
        "flat": synth.make_call(energy_script(False), calls_dir / "energy_flat.wav"),
        "dead_air": synth.make_call(energy_script(True, dead_air_ms=9000), calls_dir / "energy_dead_air.wav"),
    }
    return {name: scorer.score_file(truth.path) for name, truth in made.items()}


def test_energy_rises_with_pitch_variation_and_loudness(energy_calls):
    lively, flat = energy_calls["lively"], energy_calls["flat"]
    voice = lambda r: r.characteristics.voice[A]  # noqa: E731
    assert voice(lively).pitch_std_st > voice(flat).pitch_std_st + 0.5
    assert voice(lively).dynamic_range_db > voice(flat).dynamic_range_db + 1
    assert lively.scores["energy"].score > flat.scores["energy"].score + 5


def test_energy_falls_with_long_dead_air(energy_calls):
    dead = energy_calls["dead_air"]
    assert dead.scores["energy"].score < energy_calls["lively"].scores["energy"].score - 5
    assert any(e.feature == "dead_air" and e.effect < 0 for e in dead.scores["energy"].evidence)


# --- satisfaction and the heads on held-out data -------------------------------------------------


def test_satisfaction_ranks_thanks_and_solution_above_deferred_or_angry(scorer):
    held_out = [c for c in corpus.conversations() if c["test"]]
    good = [c for c in held_out if c["outcome"] == "resolved" and c["ending"] == "thanks"]
    bad = [c for c in held_out if c["outcome"] == "deferred" or c["ending"] == "angry"]
    assert len(good) >= 8 and len(bad) >= 8
    scores = [scorer.score_conversation(c).scores["satisfaction"].score for c in good + bad]
    auc = roc_auc_score([1] * len(good) + [0] * len(bad), scores)
    print(f"held-out satisfaction AUC {auc:.3f} ({len(good)} vs {len(bad)})")
    assert auc >= 0.85


@pytest.mark.parametrize("written,spoken", [
    # real call 40's calm customer, written out by Whisper on mono with hesitations on an AMD EPYC and
    # without them on stereo: 0.81 negative with them
    ("it's not making any noises yet, so I'm not terrified.",
     "Um, you know, it's not making any noises yet, you know, so I'm not, uh, terrified."),
    ("I need to change the address on my account.", "Uh, I need to, um change the address on my uh account."),
])
def test_the_heads_read_a_line_with_whispers_hesitations_as_the_line(written, spoken):
    """Hesitations are how Whisper wrote the speech on one call and not another, not what was said."""
    assert heads.without_fillers(spoken) == written
    read = heads.predict([written, spoken], ["CUSTOMER", "CUSTOMER"])
    for name, probs in read.probs.items():
        assert abs(probs[0] - probs[1]).max() < 1e-6, name
    # a line of nothing but a hesitation says that; "you know" in a question is the question
    assert heads.without_fillers("Um.") == "Um." and heads.without_fillers("Do you know the number?") == "Do you know the number?"


# Agent questions written apart from the corpus: asking about the customer's situation, and curt or rude.
CARING_QUESTIONS = ["How have you been sleeping since it happened?", "Do you have anyone you can talk to about it?",
                    "What has the last month been like for you?", "Is it affecting your work?",
                    "How are the children taking it?", "What did the doctor tell you?"]
CURT_QUESTIONS = ["Did you even read the email?", "Are you listening to me?", "Why didn't you check first?",
                  "Can you stop interrupting me?", "How many times do I have to say it?",
                  "What do you want me to do about it?"]


def test_the_agents_curt_questions_read_rude_and_caring_ones_courteous():
    """The politeness head had learned rude questions from customers ("are you deaf?") and hardly any
    from agents: "Why didn't you check first?" read 0.84 courteous and "What do you want me to do about
    it?" 0.64, so connection praised a curt agent; 4 of these 6 read rude. Agent questions that ask about
    the customer's situation must stay courteous."""
    curt = heads.predict(CURT_QUESTIONS, [A] * len(CURT_QUESTIONS))
    caring = heads.predict(CARING_QUESTIONS, [A] * len(CARING_QUESTIONS))
    for text, rude, polite in zip(CURT_QUESTIONS, curt.p("politeness", "rude"), curt.p("politeness", "polite")):
        assert rude > polite, f"{text!r}: rude {rude:.2f}, courteous {polite:.2f}"
    for text, rude, polite in zip(CARING_QUESTIONS, caring.p("politeness", "rude"), caring.p("politeness", "polite")):
        assert rude < polite, f"{text!r}: rude {rude:.2f}, courteous {polite:.2f}"


@pytest.mark.parametrize("text,question", [
    ("how are the kids coping", True), ("is anyone with you", True), ("which branch did you visit", True),
    ("what make is the boiler", True), ("who told you that", True), ("didn't you get the email", True),
    ("What happened?", True), ("what about the refund", True),
    ("What I can do is send you a router as a stopgap.", False), ("When a fixed tariff ends you move to the standard variable.", False),
    ("Have a great day.", False), ("What a nightmare.", False), ("Can't help you.", False), ("Do let me know.", False),
])
def test_a_question_is_told_from_a_statement_that_opens_like_one(text, question):
    """Whisper leaves question marks off, so a question is also known by how it opens; the exploring head
    is trained and read on agent questions only, and "What I can do is..." or "Have a great day." had
    counted as questions."""
    assert heads.asks_question(text) is question


def test_every_head_beats_the_keyword_baseline_on_its_test_split():
    examples = [e for e in corpus.utterances() if e.test]
    try:
        examples += [e for e in corpus.emorynlp() if e.test]
    except FileNotFoundError:
        pass  # EmoryNLP lives in shared data; the corpus test split still checks every head but arousal
    signals = heads.predict([e.text for e in examples], [e.party for e in examples])
    for head, classes in heads.HEADS.items():
        rows = [i for i, e in enumerate(examples) if head in e.labels]
        if not rows:
            continue
        truth = [examples[i].labels[head] for i in rows]
        predicted = [classes[k] for k in signals.probs[head][rows].argmax(axis=1)]
        model = f1_score(truth, predicted, average="macro")
        lexicon = f1_score(truth, baseline.predict(head, [examples[i].text for i in rows]), average="macro")
        print(f"{head:16s} model {model:.3f} baseline {lexicon:.3f} (n={len(rows)})")
        assert model > lexicon, head


def test_call_outcome_beats_the_keyword_baseline_on_held_out_conversations(scorer):
    from scorer.training.train import _keyword_outcome

    held_out = [c for c in corpus.conversations() if c["test"]]
    truth = [c["outcome"] for c in held_out]
    model = [scorer.score_conversation(c).outcome.status for c in held_out]
    keywords = [_keyword_outcome(c) for c in held_out]
    ours, theirs = f1_score(truth, model, average="macro"), f1_score(truth, keywords, average="macro")
    print(f"held-out call outcome macro-F1 {ours:.3f}, keyword baseline {theirs:.3f}")
    assert ours > theirs + 0.15 and ours > 0.6


def test_one_voice_clip_is_one_speaker_and_a_stronger_delivery_scores_more_energy(scorer, tmp_path):
    """Acted speech: one speaker, the same words at two intensities. Both come from one rendering (piper
    samples prosody: two renderings of a line differ by chance), so they differ only in delivery:
    the strong one pushed harder, with more energy at 1-3.4 kHz as a raised voice has, and louder, which
    alone is the recording's gain and must not count."""
    import soundfile as sf

    line = "Kids are talking by the door. I can't believe it!"
    deliveries = {"normal": synth.synthesize(line, "joe", gain_db=-6.0),
                  "strong": synth._sox(synth.synthesize(line, "joe", gain_db=-3.0), 16000, ["treble", "+8", "2k"])}
    energy = {}
    for name, samples in deliveries.items():
        path = tmp_path / f"{name}.wav"
        sf.write(path, samples, 16000)
        result = scorer.score_file(path)
        assert {t.speaker for t in result.turns} == {A} and "speakers" in result.skipped
        energy[name] = result.scores["energy"].score
    assert energy["strong"] > energy["normal"]


def test_a_call_on_the_edge_between_two_outcomes_scores_between_them():
    """c-010's close reads resolved 0.4371 and deferred 0.4349: the bfloat16 encoder turns that round.
    Its satisfaction must not jump by the whole difference between resolved and deferred."""
    from scorer.qualities.satisfaction import OUTCOME_VALUE, outcome_value

    one_way = outcome_value({"resolved": 0.4371, "deferred": 0.4349, "transferred": 0.0, "unresolved": 0.128})
    other_way = outcome_value({"resolved": 0.4349, "deferred": 0.4371, "transferred": 0.0, "unresolved": 0.128})
    assert abs(one_way - other_way) < 0.05 * (OUTCOME_VALUE["resolved"] - OUTCOME_VALUE["deferred"])
    assert OUTCOME_VALUE["deferred"] < one_way < OUTCOME_VALUE["resolved"]
    # a clear status counts in full, however the rest of its probability is spread
    assert outcome_value({"resolved": 0.55, "deferred": 0.3, "transferred": 0.0, "unresolved": 0.15}) == OUTCOME_VALUE["resolved"]
