import json

import numpy as np
import pytest

from scorer.audio import SAMPLE_RATE
from scorer.characteristics import measure
from scorer.conversation import AGENT, CUSTOMER, Conversation, Turn, Word


def turn(speaker, *words):
    """A turn from (text, begin_ms, end_ms) words."""
    ws = [Word(text, b, e) for text, b, e in words]
    return Turn(speaker, ws[0].begin_ms, ws[-1].end_ms, " ".join(w.text for w in ws), ws)


def spoken(speaker, text, begin_ms, word_ms=400):
    """A turn of back-to-back words of ``word_ms`` each."""
    tokens = text.split()
    return turn(speaker, *[(w, begin_ms + i * word_ms, begin_ms + (i + 1) * word_ms) for i, w in enumerate(tokens)])


@pytest.fixture(scope="module")
def call():
    """Agent 0-2.4 s, customer 2.5-4.1 s, 6 s of silence, agent 10.1-12.5 s interrupted by the
    customer at 11.3 s (1.2 s overlap), agent answering at 13.5 s with a customer "uh-huh" over it
    and going on to 18.3 s; call 20 s."""
    turns = [
        spoken(AGENT, "thank you for calling how can", 0),  # 6 words 0-2400
        spoken(CUSTOMER, "my card was declined", 2500),  # 4 words 2500-4100
        spoken(AGENT, "let me check that for you", 10100),  # 6 words 10100-12500
        spoken(CUSTOMER, "no wait I already did that", 11300, 300),  # 6 words 11300-13100
        spoken(AGENT, "I see the problem now it is fixed", 13500, 500),  # 8 words 13500-17500
        spoken(CUSTOMER, "uh-huh", 15000, 300),  # backchannel 15000-15300
        spoken(AGENT, "anything else", 17500),  # continuation after the backchannel
    ]
    return Conversation(turns, duration_ms=20000)


def test_talk_time_share_and_wpm(call):
    c = measure(call)
    assert c.talk[AGENT].talk_ms == 2400 + 2400 + 4000 + 800
    assert c.talk[CUSTOMER].talk_ms == 1600 + 1800 + 300
    total = 9600 + 3700
    assert c.talk[AGENT].talk_pct == pytest.approx(100 * 9600 / total, abs=0.05)
    assert c.talk[AGENT].words == 6 + 6 + 8 + 2
    assert c.talk[AGENT].wpm == pytest.approx(22 * 60000 / 9600, abs=0.05)
    assert c.turns[0].wpm == pytest.approx(150.0)  # 400 ms words
    assert c.turns[4].wpm == pytest.approx(120.0)  # 500 ms words


def test_overlapping_words_of_one_party_count_once():
    t = turn(AGENT, ("a", 0, 1000), ("b", 500, 1500))
    assert measure(Conversation([t], 1500)).talk[AGENT].talk_ms == 1500


def test_non_talk_and_long_silence(call):
    c = measure(call)
    silences = [(s.begin_ms, s.end_ms, s.position) for s in c.non_talk.silences]
    assert silences == [(4100, 10100, "between")]
    # 2400-2500, 4100-10100, 13100-13500 and the trailing 18300-20000
    assert c.non_talk.total_ms == 100 + 6000 + 400 + 1700
    assert c.non_talk.pct == pytest.approx(100 * 8200 / 20000, abs=0.05)
    assert c.handle_time.first_speech_ms == 0
    assert c.handle_time.last_speech_ms == 18300
    assert c.handle_time.duration_ms == 20000


def test_lead_in_and_trailing_silences_are_marked():
    c = measure(Conversation([spoken(AGENT, "hello", 6000)], 12000), silence_threshold_ms=5000)
    assert [(s.begin_ms, s.end_ms, s.position) for s in c.non_talk.silences] == [
        (0, 6000, "lead_in"),
        (6400, 12000, "trailing"),
    ]


def test_interruption_found_and_backchannel_not_counted(call):
    ints = measure(call).interruptions
    assert [(e.interrupter, e.interrupted, e.begin_ms, e.end_ms) for e in ints.events] == [
        (CUSTOMER, AGENT, 11300, 12500)
    ]
    assert ints.counts == {AGENT: 0, CUSTOMER: 1}
    assert ints.backchannels == {AGENT: 0, CUSTOMER: 1}


def test_agent_interruption_and_short_overlap_ignored():
    turns = [
        spoken(CUSTOMER, "I have been waiting for an hour", 0),  # 0-2800
        spoken(AGENT, "sorry about that let me", 2000),  # starts 800 ms before the customer ends
        spoken(CUSTOMER, "fine", 5000),  # 5000-5400
        spoken(AGENT, "thanks", 5300),  # 100 ms overlap: turn-taking jitter
    ]
    ints = measure(Conversation(turns, 6000)).interruptions
    assert [(e.interrupter, e.interrupted, e.begin_ms, e.duration_ms) for e in ints.events] == [
        (AGENT, CUSTOMER, 2000, 800)
    ]


def test_interruption_from_turn_times_without_words():
    turns = [Turn(AGENT, 0, 3000, "some long explanation here"), Turn(CUSTOMER, 2000, 4000, "but that is wrong")]
    c = measure(Conversation(turns, 4000))
    assert [(e.interrupter, e.begin_ms, e.end_ms) for e in c.interruptions.events] == [(CUSTOMER, 2000, 3000)]
    assert c.talk[AGENT].talk_ms == 3000


def test_latency(call):
    lat = measure(call).latency
    # 4100 -> 10100, 13100 -> 13500; the backchannel inside the agent's speech is not answered
    assert [(r.customer_end_ms, r.agent_begin_ms, r.gap_ms) for r in lat.responses] == [
        (4100, 10100, 6000),
        (13100, 13500, 400),
    ]
    assert lat.mean_ms == 3200 and lat.median_ms == 3200 and lat.max_ms == 6000
    early = [spoken(CUSTOMER, "hello there", 0), spoken(AGENT, "hi", 600)]
    assert measure(Conversation(early, 1000)).latency.responses[0].gap_ms == -200


def test_text_only_skips_acoustics_and_is_json(call):
    c = measure(call)
    assert c.voice is None
    assert set(c.skipped) == {"loudness", "pitch"}
    assert all(t.loudness_dbfs is None and t.pitch_hz is None for t in c.turns)
    json.dumps(c.to_dict())


def test_empty_conversation_and_silent_party():
    c = measure(Conversation([], 0), party_audio={AGENT: np.zeros(0, np.float32)})
    assert c.talk[AGENT].talk_ms == 0 and c.talk[AGENT].wpm is None
    assert c.non_talk.total_ms == 0 and c.latency.mean_ms is None
    assert c.handle_time.first_speech_ms is None
    assert "voice.CUSTOMER" in c.skipped
    json.dumps(c.to_dict())


# --- acoustics ------------------------------------------------------------------------------


def tone(f0_hz, seconds, vibrato_st=0.0, amplitude=0.1):
    """Five-harmonic tone, optionally with a 5 Hz vibrato of ``vibrato_st`` semitones."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f = f0_hz * 2 ** (vibrato_st * np.sin(2 * np.pi * 5 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
    return (amplitude * sum(np.sin(k * phase) / k for k in range(1, 6))).astype(np.float32)


def place(total_ms, pieces):
    """A signal of ``total_ms`` with each (begin_ms, samples) written in."""
    y = np.zeros(total_ms * SAMPLE_RATE // 1000, np.float32)
    for begin_ms, x in pieces:
        start = begin_ms * SAMPLE_RATE // 1000
        y[start : start + len(x)] = x
    return y


@pytest.fixture(scope="module")
def voiced_call():
    """Stereo: a flat 120 Hz agent and a 220 Hz customer with a 2-semitone vibrato, each 2 turns of
    3 s; the customer's second turn is 20 dB louder than the first."""
    turns = [
        spoken(AGENT, "one two three four five six", 0, 500),
        spoken(CUSTOMER, "one two three four five six", 3500, 500),
        spoken(AGENT, "one two three four five six", 7000, 500),
        spoken(CUSTOMER, "one two three four five six", 10500, 500),
    ]
    agent = place(14000, [(0, tone(120, 3)), (7000, tone(120, 3))])
    customer = place(14000, [(3500, tone(220, 3, 2, 0.03)), (10500, tone(220, 3, 2, 0.3))])
    return measure(Conversation(turns, 14000), {AGENT: agent, CUSTOMER: customer})


def test_pitch_median_and_variability(voiced_call):
    v = voiced_call.voice
    assert v[AGENT].pitch_hz == pytest.approx(120, rel=0.05)
    assert v[CUSTOMER].pitch_hz == pytest.approx(220, rel=0.05)
    assert v[AGENT].pitch_std_st < 0.2
    # a sine vibrato of +-2 semitones has a std of 2/sqrt(2)
    assert v[CUSTOMER].pitch_std_st == pytest.approx(2 / np.sqrt(2), rel=0.2)
    assert v[CUSTOMER].pitch_range_st > 2 * v[AGENT].pitch_range_st + 1
    assert voiced_call.turns[1].pitch_std_st > voiced_call.turns[0].pitch_std_st + 1


def test_loudness(voiced_call):
    quiet, loud = voiced_call.turns[1], voiced_call.turns[3]
    assert loud.loudness_dbfs - quiet.loudness_dbfs == pytest.approx(20, abs=0.2)
    assert loud.loudness_score > quiet.loudness_score
    assert voiced_call.voice[CUSTOMER].dynamic_range_db == pytest.approx(10, abs=0.2)
    assert voiced_call.voice[AGENT].dynamic_range_db == pytest.approx(0, abs=0.2)
    assert voiced_call.skipped == {}
    json.dumps(voiced_call.to_dict())


def test_noise_is_not_pitched_and_louder_noise_is_louder():
    rng = np.random.default_rng(0)
    turns = [spoken(AGENT, "a b c d", 0, 500), spoken(AGENT, "a b c d", 5000, 500)]
    y = place(7000, [(0, 0.02 * rng.standard_normal(32000)), (5000, 0.2 * rng.standard_normal(32000))])
    c = measure(Conversation(turns, 7000), {AGENT: y, CUSTOMER: y})  # mono: one mixed signal
    assert c.turns[1].loudness_dbfs > c.turns[0].loudness_dbfs + 15
    assert c.voice[AGENT].pitch_hz is None
    assert set(c.skipped) == {"pitch.AGENT", "voice.CUSTOMER"}  # noise; the customer never speaks


def test_audio_shorter_than_the_conversation():
    turns = [spoken(AGENT, "hello there", 0), spoken(CUSTOMER, "hi", 1000)]
    c = measure(Conversation(turns, 1400), {AGENT: tone(150, 0.05), CUSTOMER: np.zeros(10, np.float32)})
    assert c.turns[1].loudness_dbfs is None and c.turns[1].pitch_hz is None
    assert c.voice[AGENT].pitch_hz is None  # 50 ms is too little voicing
    assert "pitch.AGENT" in c.skipped
    with pytest.raises(ValueError, match="mono"):
        measure(Conversation(turns, 1400), {AGENT: np.zeros((2, 100), np.float32)})
