import json

import numpy as np
import pytest

from scorer import synth
from scorer.audio import SAMPLE_RATE
from scorer.characteristics import PAUSE_MS, measure
from scorer.conversation import AGENT, CUSTOMER, Conversation, Turn, Word, from_dict
from scorer.result import CallInfo, CallResult, Speakers


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
    """Agent 0-2.4 s, customer 2.5-4.1 s, 6 s of silence, agent 10.1-12.1 s cut off by the customer
    at 11.3 s (the agent stops 0.8 s later, the customer goes on to 13.1 s), agent answering at
    13.5 s with a customer "uh-huh" over it and going on to 18.3 s; call 20 s."""
    turns = [
        spoken(AGENT, "thank you for calling how can", 0),  # 6 words 0-2400
        spoken(CUSTOMER, "my card was declined", 2500),  # 4 words 2500-4100
        spoken(AGENT, "let me check that for", 10100),  # 5 words 10100-12100
        spoken(CUSTOMER, "no wait I already did that", 11300, 300),  # 6 words 11300-13100
        spoken(AGENT, "I see the problem now it is fixed", 13500, 500),  # 8 words 13500-17500
        spoken(CUSTOMER, "uh-huh", 15000, 300),  # backchannel 15000-15300
        spoken(AGENT, "anything else", 17500),  # continuation after the backchannel
    ]
    return Conversation(turns, duration_ms=20000)


def test_talk_time_share_and_wpm(call):
    c = measure(call)
    # utterances: 0-2400, 10100-12100 (1.4 s before the agent speaks again), 13500-18300
    assert c.talk[AGENT].talk_ms == 2400 + 2000 + 4800
    assert c.talk[CUSTOMER].talk_ms == 1600 + 1800 + 300
    assert c.talk[AGENT].talk_pct == pytest.approx(100 * 9200 / (9200 + 3700), abs=0.05)
    assert c.talk[AGENT].words == 6 + 5 + 8 + 2
    assert c.talk[AGENT].wpm == pytest.approx(21 * 60000 / 9200, abs=0.05)
    assert c.turns[0].wpm == pytest.approx(150.0)  # 400 ms words
    assert c.turns[4].wpm == pytest.approx(120.0)  # 500 ms words


def test_talk_speed_is_the_speaking_rate_with_short_pauses_included():
    """Nine 400 ms words: three, a 600 ms pause, three, a 1.5 s pause, three. The short pause is part
    of speaking, the long one is silence: 9 words in 4.2 s, not in 3.6 s of words (articulation
    rate, 150) nor in 5.7 s from first word to last."""
    words = [(w, b, b + 400) for w, b in zip("one two three".split(), (0, 400, 800))]
    words += [(w, b, b + 400) for w, b in zip("four five six".split(), (1800, 2200, 2600))]
    words += [(w, b, b + 400) for w, b in zip("seven eight nine".split(), (4500, 4900, 5300))]
    assert 600 < PAUSE_MS < 1500
    c = measure(Conversation([turn(AGENT, *words)], 6000))
    rate = 9 * 60000 / (3000 + 1200)
    assert c.turns[0].talk_ms == c.talk[AGENT].talk_ms == 4200
    assert c.turns[0].wpm == c.talk[AGENT].wpm == pytest.approx(rate, abs=0.05)
    # the same definition when a party's speech is split into turns by the other's backchannel
    split = [turn(AGENT, *words[:3]), spoken(CUSTOMER, "mm-hmm", 1300, 300), turn(AGENT, *words[3:])]
    assert measure(Conversation(split, 6000)).talk[AGENT].wpm == pytest.approx(rate, abs=0.05)
    # text with turn times and no word times: the turn is the utterance
    timed_text = from_dict({"turns": [{"speaker": "agent", "text": "one two three four five", "begin_ms": 0, "end_ms": 2000}]})
    assert measure(timed_text).talk[AGENT].wpm == measure(timed_text).turns[0].wpm == pytest.approx(150.0)


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
        (CUSTOMER, AGENT, 11300, 12100)
    ]
    assert ints.counts == {AGENT: 0, CUSTOMER: 1}
    assert ints.backchannels == {AGENT: 0, CUSTOMER: 1}


def test_agent_interruption_and_short_overlap_ignored():
    turns = [
        spoken(CUSTOMER, "I have been waiting for an hour", 0),  # 0-2800
        spoken(AGENT, "sorry about that let me", 2000),  # starts on "an": the customer stops 800 ms later
        spoken(CUSTOMER, "fine", 5000),  # 5000-5400
        spoken(AGENT, "thanks", 5300),  # 100 ms overlap: turn-taking jitter
    ]
    ints = measure(Conversation(turns, 6000)).interruptions
    assert [(e.interrupter, e.interrupted, e.begin_ms, e.duration_ms) for e in ints.events] == [
        (AGENT, CUSTOMER, 2000, 800)
    ]
    assert ints.overlaps == {AGENT: 0, CUSTOMER: 0}


def customer_then(agent_turn):
    """The customer gives the car (0-4000, 400 ms words, "2019" at 2000-2400) and the agent comes in."""
    return Conversation([spoken(CUSTOMER, "it is a black 2019 Tesla model S and the", 0), agent_turn], 8000)


def test_overlap_kinds_takeover_backchannel_confirmation():
    kinds = {
        # the customer is cut off: stops 0.8 s after the agent comes in, the agent goes on
        "takeover": Conversation([spoken(CUSTOMER, "it is a black 2019 Tesla model", 0),
                                  spoken(AGENT, "okay so what I need from you is the", 2000)], 8000),
        "backchannel": customer_then(spoken(AGENT, "mm-hmm I see", 2200, 300)),
        # the agent repeats the year as the customer says it ("A 2019." over "a 2019")
        "confirmation": customer_then(turn(AGENT, ("A", 1700, 1900), ("2019.", 1900, 2500))),
        # a short reply that repeats nothing the customer said, while the customer does not stop
        "overlap": customer_then(spoken(AGENT, "no hang on", 1800, 300)),
    }
    found = {}
    for kind, conv in kinds.items():
        ints = measure(conv).interruptions
        found[kind] = {"takeover": ints.counts[AGENT], "backchannel": ints.backchannels[AGENT],
                       "confirmation": ints.confirmations[AGENT], "overlap": ints.overlaps[AGENT]}
        assert ints.counts[CUSTOMER] == 0
    assert {kind: [k for k, n in counts.items() if n] for kind, counts in found.items()} == {
        kind: [kind] for kind in kinds
    }
    assert all(n <= 1 for counts in found.values() for n in counts.values())


def test_terminal_overlap_and_talk_nobody_yields_to_are_not_interruptions():
    # the agent starts on the customer's last word: the customer was finishing, not cut off
    closing = [spoken(CUSTOMER, "thank you so much", 0), spoken(AGENT, "you are very welcome have a good day", 1400)]
    ints = measure(Conversation(closing, 5000)).interruptions
    assert ints.events == [] and ints.overlaps == {AGENT: 1, CUSTOMER: 0}
    # the agent talks over the customer, who keeps the floor for 2.4 s more
    ignored = [spoken(CUSTOMER, "and then the engine light came on again on the motorway yesterday", 0),
               spoken(AGENT, "right but did you", 1200)]
    ints = measure(Conversation(ignored, 6000)).interruptions
    assert ints.events == [] and ints.overlaps == {AGENT: 1, CUSTOMER: 0}
    # both talk for 4 s: the customer held the floor against the agent, no takeover
    parallel = [spoken(CUSTOMER, "and then the engine light came on again on the motorway yesterday", 0, 500),
                spoken(AGENT, "okay so what we will do for you is book the car in for", 1500)]
    ints = measure(Conversation(parallel, 8000)).interruptions
    assert ints.events == [] and ints.overlaps == {AGENT: 1, CUSTOMER: 0}


def test_mono_cannot_show_overlap(call):
    c = measure(call, overlap_measurable=False)
    assert c.interruptions is None and "mono" in c.skipped["interruptions"]
    assert c.talk == measure(call).talk and c.latency == measure(call).latency


def test_untimed_text_invents_no_times():
    conv = from_dict({"turns": [
        {"speaker": "agent", "text": "Thank you for calling, how can I help?"},
        {"speaker": "customer", "text": "My card was declined."},
        {"speaker": "agent", "text": "Let me fix that for you."},
    ]})
    assert not conv.timed
    c = measure(conv)
    assert c.handle_time is None and c.non_talk is None and c.interruptions is None and c.latency is None
    assert (c.talk[AGENT].words, c.talk[AGENT].turns, c.talk[CUSTOMER].words) == (14, 2, 4)
    assert all(c.talk[p].talk_ms is None and c.talk[p].talk_pct is None and c.talk[p].wpm is None for p in c.talk)
    assert all(t.begin_ms is None and t.end_ms is None and t.talk_ms is None and t.wpm is None for t in c.turns)
    assert [t.words for t in c.turns] == [8, 4, 6]
    for key in ("handle_time", "talk_time", "talk_speed", "silences", "interruptions", "latency", "loudness", "pitch"):
        assert c.skipped[key]
    result = CallResult(CallInfo("text", conv.duration_ms, 0, None, "text", "text"), Speakers("given", None, 1.0),
                        conv.turns, [], c, {}, None, {}, {})
    out = json.loads(json.dumps(result.to_dict()))
    assert out["handle_time_ms"] is None and out["characteristics"]["latency"] is None
    assert all(t["begin_ms"] is None and t["end_ms"] is None for t in out["turns"])
    assert [t["text"] for t in out["turns"]][1] == "My card was declined."


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
    assert set(c.skipped) == {"loudness", "vocal_effort", "pitch"}
    assert all(t.loudness_dbfs is None and t.vocal_effort_db is None and t.pitch_hz is None for t in c.turns)
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


def test_a_word_placed_in_silence_does_not_make_a_level_voice_lively():
    """Five turns at one level and a one-word fragment that Whisper placed where the channel is
    silent (measured at the noise floor): the voice is level, not 40 dB dynamic."""
    starts = [0, 4000, 8000, 12000, 16000]
    turns = [spoken(AGENT, "one two three four five six", b, 500) for b in starts]
    turns.insert(3, spoken(AGENT, "okay", 11000, 300))
    agent = place(20000, [(b, tone(120, 3)) for b in starts])
    measured = measure(Conversation(turns, 20000), {AGENT: agent, CUSTOMER: np.zeros_like(agent)})
    assert measured.turns[3].loudness_dbfs < -90
    assert measured.voice[AGENT].dynamic_range_db < 1.0


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


# --- vocal effort and pitch on synthesised speech ---------------------------------------------

LINE = "Great news, I found the problem, and I've already fixed it for you."


def one_turn(signal, text=LINE):
    """A call of one agent turn spanning ``signal``."""
    ms = len(signal) * 1000 // SAMPLE_RATE
    return measure(Conversation([Turn(AGENT, 0, ms, text)], ms), {AGENT: signal, CUSTOMER: np.zeros_like(signal)})


def test_vocal_effort_ignores_gain_and_rises_with_effort():
    """The same words at -6 and -26 dB: loudness moves 20 dB, vocal effort does not. A pushed voice
    (the same words with the flatter spectral tilt and higher pitch of raised effort) reads higher
    even when recorded 20 dB quieter, where loudness orders the pair the wrong way round."""
    normal = synth.synthesize(LINE, "joe")
    near, far = one_turn(normal * 10 ** (-6 / 20)), one_turn(normal * 10 ** (-26 / 20))
    assert near.turns[0].loudness_dbfs - far.turns[0].loudness_dbfs == pytest.approx(20, abs=0.2)
    assert far.voice[AGENT].vocal_effort_db == pytest.approx(near.voice[AGENT].vocal_effort_db, abs=0.1)
    # a telephone line (8 kHz) keeps both bands
    phone = one_turn(synth.synthesize(LINE, "joe", sample_rate=8000).repeat(2))
    assert phone.voice[AGENT].vocal_effort_db == pytest.approx(near.voice[AGENT].vocal_effort_db, abs=1.0)

    pushed = synth._sox(synth.synthesize(LINE, "joe", pitch_cents=200), SAMPLE_RATE, ["treble", "+6", "1500"])
    strong_far = one_turn(pushed / np.abs(pushed).max() * np.abs(normal).max() * 10 ** (-26 / 20))
    assert strong_far.turns[0].loudness_dbfs < near.turns[0].loudness_dbfs - 10
    # a +6 dB shelf from 1.5 kHz raises the ratio by about 2.5 dB: far beyond the 0.1 dB gain moves it
    assert strong_far.voice[AGENT].vocal_effort_db > near.voice[AGENT].vocal_effort_db + 1.5


def test_pitch_follows_a_shifted_voice_turn_by_turn():
    """Each line spoken as is and shifted by sox: every turn's median pitch moves by the shift
    (within 1 semitone), and the call's pitch varies more. How much more depends on how widely piper's
    rendering (its prosody sampled) already varies within a turn: a fixed margin on the range held for one
    rendering and not another (7.7 st flat, +0.6 lively), so the call-level check is its direction."""
    lines = ["Thank you for calling Northwind Energy, my name is Sam, how can I help you today?",
             "Oh, I can definitely help with that. Let me pull up your account right now.",
             LINE, "Is there anything else I can help you with today?"]
    shifts = [350, -250, 350, -250]

    def call(cents):
        pieces, turns, clock = [], [], 0
        for line, c in zip(lines, cents):
            x = synth.synthesize(line, "joe", pitch_cents=c)
            ms = len(x) * 1000 // SAMPLE_RATE
            pieces.append((clock, x))
            turns.append(Turn(AGENT, clock, clock + ms, line))
            clock += ms + 500
        y = place(clock, pieces)
        return measure(Conversation(turns, clock), {AGENT: y, CUSTOMER: np.zeros_like(y)})

    flat, lively = call([0] * 4), call(shifts)
    for f, g, cents in zip(flat.turns, lively.turns, shifts):
        assert 12 * np.log2(g.pitch_hz / f.pitch_hz) == pytest.approx(cents / 100, abs=1.0)
    assert lively.voice[AGENT].pitch_std_st > flat.voice[AGENT].pitch_std_st
    assert lively.voice[AGENT].pitch_range_st > flat.voice[AGENT].pitch_range_st


def test_vocal_effort_of_a_real_telephone_agent_ignores_gain(shared_data):
    """Call 40's agent (8 kHz telephone speech), one turn per voice-activity region, at its own
    level and 20 dB down: loudness follows the gain, vocal effort does not."""
    from scorer.audio import load_audio
    from scorer.vad import speech_regions

    agent = load_audio(shared_data / "calls" / "aws_lca_Auto_Repairs_40_UTC_agent.wav").channel(0)
    turns = [Turn(AGENT, b, e, "speech") for b, e in speech_regions(agent) if e - b >= 500]
    assert len(turns) >= 10

    def voice(gain):
        y = agent * gain
        return measure(Conversation(turns, len(y) * 1000 // SAMPLE_RATE), {AGENT: y, CUSTOMER: np.zeros_like(y)}).voice[AGENT]

    level, quiet = voice(1.0), voice(0.1)
    assert level.loudness_dbfs - quiet.loudness_dbfs == pytest.approx(20, abs=0.2)
    assert quiet.vocal_effort_db == pytest.approx(level.vocal_effort_db, abs=0.1)
    assert -15 < level.vocal_effort_db < 5  # a speaking voice, not silence or hiss
