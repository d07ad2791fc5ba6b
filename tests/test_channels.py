"""How a recording's channels become the two parties' words: quiet but live channels, dead
channels, echo of one side on the other, which stereo channel is the agent's, and everything
dropped on the way reported under ``skipped``."""

import numpy as np
import pytest
import soundfile as sf

from scorer import AGENT, CUSTOMER, Scorer, synth
from scorer.audio import SAMPLE_RATE, Audio, to_int16
from scorer.cli import parser
from scorer.crosstalk import remove_echo
from scorer.pipeline import _duplicated, _report_non_speech
from scorer.transcribe import NO_SPEECH_PROB, _segment, load_transcriber
from scorer.vad import has_speech

AGENT_LINE = "Thank you for calling Northwind Energy, my name is Sam, how can I help you today?"
CUSTOMER_LINE = "Hi Sam. I got my bill this morning and it's almost twice what I usually pay."


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


def at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x * 10 ** ((dbfs - rms_dbfs(x)) / 20)).astype(np.float32)


def pcm16(x: np.ndarray) -> np.ndarray:
    """What a 16-bit recorder stores."""
    return (np.round(np.clip(x, -1, 1) * 32767) / 32767).astype(np.float32)


def words_of_party(result, party: str) -> str:
    return " ".join(t.text for t in result.turns if t.speaker == party).lower()


@pytest.fixture(scope="module")
def agent_speech() -> np.ndarray:
    return synth.synthesize(AGENT_LINE, "joe")


@pytest.fixture(scope="module")
def customer_speech() -> np.ndarray:
    return synth.synthesize(CUSTOMER_LINE, "espeak")


@pytest.fixture(scope="module")
def resolved(scorer, resolved_stereo_16k):
    """The resolved call (agent left) scored as it is: the reference for the variants below."""
    return scorer.score_file(resolved_stereo_16k.path)


def variant(truth, tmp_path, name, change) -> str:
    audio, rate = sf.read(truth.path, dtype="float32")
    path = tmp_path / f"{name}.wav"
    sf.write(path, change(audio), rate, subtype="PCM_16")
    return path


# --- quiet but live, or dead -------------------------------------------------------------------


@pytest.mark.parametrize("dbfs", [-45.0, -55.0])
def test_quiet_speech_is_transcribed_not_called_silent(scorer, agent_speech, dbfs):
    pause = np.zeros(SAMPLE_RATE, np.float32)
    samples = pcm16(at_level(np.concatenate([pause, agent_speech, pause, agent_speech, pause]), dbfs))
    assert abs(rms_dbfs(samples) - dbfs) < 0.5
    assert has_speech(samples)
    result = scorer.score_audio(Audio(to_int16(samples)[None], f"quiet {dbfs} dBFS", SAMPLE_RATE, 1, "synthesised"))
    assert "speech" not in result.skipped
    assert "northwind" in " ".join(t.text for t in result.turns).lower()


def _hold_music() -> np.ndarray:
    t = np.arange(int(2.5 * SAMPLE_RATE)) / SAMPLE_RATE
    chords = [(261.6, 329.6, 392.0), (293.7, 370.0, 440.0), (246.9, 311.1, 370.0), (220.0, 277.2, 329.6)]
    return np.tile(np.concatenate([sum(0.1 * np.sin(2 * np.pi * f * t) for f in c) for c in chords]), 3)


@pytest.mark.parametrize("signal", ["digital silence", "near silence", "line noise", "mains hum", "hold music"])
def test_no_speech_without_a_voice(signal):
    rng = np.random.default_rng(0)
    n = 30 * SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    samples = pcm16({
        "digital silence": lambda: np.zeros(n),
        "near silence": lambda: 3e-5 * rng.standard_normal(n),  # a few bits of an idle line
        "line noise": lambda: 0.01 * rng.standard_normal(n),  # -40 dBFS hiss
        "mains hum": lambda: (0.02 * np.sin(2 * np.pi * 50 * t) + 0.01 * np.sin(2 * np.pi * 150 * t)
                              + 0.003 * rng.standard_normal(n)),
        "hold music": _hold_music,
    }[signal]())
    assert not has_speech(samples)


def test_dead_channel_skips_what_needs_both_sides(bad_inputs, scorer, resolved):
    """Issue 7: a dead customer channel gave energy 7 at confidence 0.91 from "dead air" while the
    customer was talking."""
    result = scorer.score_file(bad_inputs["dead_channel"])
    assert "voice activity found no speech" in result.skipped["channel.right"]
    assert "one_side" in result.skipped
    for measure in ("silences", "latency", "interruptions", "talk_balance"):
        assert measure in result.characteristics.skipped
    assert result.scores["energy"].features["dead_air"] is None
    assert result.scores["connection"].features["agent_interruptions"] is None
    assert result.scores["connection"].features["response_latency"] is None
    for quality in ("energy", "connection"):
        assert result.scores[quality].confidence < resolved.scores[quality].confidence - 0.1, quality


# --- echo ----------------------------------------------------------------------------------------


def test_echo_of_the_agent_on_the_customer_channel_is_dropped(shipped_scorer, resolved_stereo_16k, tmp_path):
    """With the shipped model: tiny.en, hearing a -25 dB copy of the agent under the customer's reply, can
    decode the copy instead of the reply (one piper rendering lost "Oh, that makes sense. We were away for
    most of last month." so, and 9 of the customer's 56 words); base keeps every reply."""
    def leak(audio):
        audio[:, 1] += 10 ** (-25 / 20) * audio[:, 0]
        return audio

    result = shipped_scorer.score_file(variant(resolved_stereo_16k, tmp_path, "leak", leak))
    resolved = shipped_scorer.score_file(resolved_stereo_16k.path)
    assert "crosstalk" in result.skipped and "on the right" in result.skipped["crosstalk"]
    assert "northwind" in words_of_party(result, AGENT) and "northwind" not in words_of_party(result, CUSTOMER)
    heard = {p: len(words_of_party(result, p).split()) for p in (AGENT, CUSTOMER)}
    clean = {p: len(words_of_party(resolved, p).split()) for p in (AGENT, CUSTOMER)}
    assert heard[AGENT] == pytest.approx(clean[AGENT], rel=0.1)
    assert heard[CUSTOMER] == pytest.approx(clean[CUSTOMER], rel=0.15)
    assert [t.speaker for t in result.turns][:4] == [AGENT, CUSTOMER, AGENT, CUSTOMER]


@pytest.fixture(scope="module")
def tiny():
    return load_transcriber("faster-whisper", "tiny.en", device="cpu")


def test_two_people_saying_the_same_words_at_once_are_not_echo(tiny, agent_speech):
    """Separate channels, different voices, the same words at the same moment (a confirmation said
    along with the other party), the second channel recorded 12 dB quieter: both are kept. A -25 dB
    delayed copy of the same speech is dropped."""
    other_voice = synth.synthesize(AGENT_LINE, "espeak")
    n = max(len(agent_speech), len(other_voice)) + SAMPLE_RATE
    left, together, copy = (np.zeros(n, np.float32) for _ in range(3))
    left[: len(agent_speech)] = agent_speech
    together[: len(other_voice)] = at_level(other_voice, rms_dbfs(agent_speech) - 12)
    copy[SAMPLE_RATE // 10:] = 10 ** (-25 / 20) * left[: n - SAMPLE_RATE // 10]  # 100 ms later
    left_words = tiny.transcribe(left).words
    for right, dropped in ((together, False), (copy, True)):
        right_words = tiny.transcribe(right).words
        assert len(right_words) > 5
        kept, echo = remove_echo([left_words, right_words], [left, right])
        assert kept[0] == left_words and echo[0] == []
        if dropped:
            assert len(echo[1]) >= 0.9 * len(right_words)
        else:
            assert echo[1] == [] and kept[1] == right_words


def test_real_separate_tracks_have_no_echo(tiny, shared_data):
    """Call 40's agent and caller were recorded apart (correlation about 0): nothing is echo,
    overlaps included."""
    audio, rate = sf.read(shared_data / "calls" / "aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav",
                          dtype="float32", frames=8000 * 90)
    import soxr

    channels = [np.ascontiguousarray(soxr.resample(audio[:, i], rate, SAMPLE_RATE), dtype=np.float32) for i in (0, 1)]
    words = [tiny.transcribe(c).words for c in channels]
    kept, echo = remove_echo(words, channels)
    assert echo == [[], []] and kept == words


# --- which channel is the agent's ----------------------------------------------------------------


def test_auto_finds_the_agent_on_the_right(scorer, resolved_stereo_16k, tmp_path):
    swapped = variant(resolved_stereo_16k, tmp_path, "swapped", lambda a: a[:, ::-1])
    result = scorer.score_file(swapped)
    assert scorer.agent_channel == "auto"
    assert result.speakers.agent_channel == "right" and result.speakers.agent_confidence >= 0.5
    assert [t.speaker for t in result.turns][:4] == [AGENT, CUSTOMER, AGENT, CUSTOMER]
    assert "northwind" in words_of_party(result, AGENT)
    assert "speakers" not in result.skipped

    told_wrong = Scorer(agent_channel="left").score_file(swapped)
    assert told_wrong.speakers.agent_channel == "left"  # obeyed ...
    assert told_wrong.turns[0].speaker == CUSTOMER
    assert told_wrong.speakers.evidence[0].startswith("warning")  # ... but checked
    assert "right" in told_wrong.speakers.evidence[0]
    assert told_wrong.speakers.agent_confidence < 0.5
    assert told_wrong.skipped["speakers"] == told_wrong.speakers.evidence[0]  # shown in the summary too


def test_auto_picks_left_on_the_real_call(scorer, shared_data):
    result = scorer.score_file(shared_data / "calls" / "aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav")
    assert result.speakers.agent_channel == "left" and result.speakers.agent_confidence >= 0.5
    assert result.turns[0].speaker == AGENT


def test_agent_channel_option():
    assert parser().parse_args(["score", "call.wav"]).agent_channel == "auto"
    assert parser().parse_args(["score", "call.wav", "--agent-channel", "right"]).agent_channel == "right"
    with pytest.raises(ValueError, match="auto, left, right"):
        Scorer(agent_channel="middle")


# --- bookkeeping -----------------------------------------------------------------------------------


def test_segments_whisper_rates_as_not_speech_are_counted():
    words = [(" Mm", 1.0, 1.4, 0.3), (" hmm", 1.4, 2.5, 0.2)]
    dropped = _segment(" Mm hmm", 1.0, 2.5, words, NO_SPEECH_PROB + 0.05)
    kept = _segment(" Mm hmm", 1.0, 2.5, words, NO_SPEECH_PROB - 0.05)
    assert not dropped.speech and dropped.words == [] and kept.speech and len(kept.words) == 2
    skipped = {}
    _report_non_speech([dropped, dropped], skipped)
    assert skipped["non_speech"].startswith("2 stretches (3.0 s)")
    nothing = {}
    _report_non_speech([], nothing)
    assert nothing == {}


# Whisper base's words at the end of speech on synthesised 8 kHz calls and on call 40 (word, start s,
# end s, probability; the durations and probabilities as Whisper gave them): what nobody said, then
# what was said.
MADE_UP = {
    "c-119, the customer after \"Hello? Hello?\"": [(" Bye", 36.41, 36.57, 0.03), (" bye.", 36.57, 36.57, 0.39)],
    "c-137, the agent's side after \"I can't give a timeframe.\"": [(" Thank", 20.10, 20.14, 0.02), (" you.", 20.14, 20.14, 0.98)],
    "c-007, the customer's side": [(" Are", 30.0, 30.0, 0.11), (" you", 30.0, 30.0, 0.11), (" fine?", 30.0, 30.65, 0.12)],
}
SAID = {
    "c-061, the customer's closing \"Okay.\", timed at 0 ms": [(" Okay.", 41.2, 41.2, 0.96)],
    "c-020, the agent's closing \"Bye.\", squeezed into 30 ms": [(" Bye.", 52.0, 52.03, 0.50)],
    "call 40's caller, badly heard: 3 of 4 words doubted, 2 squeezed, under 1 a word": [(" Is", 1.0, 1.06, 0.10), (" that", 1.06, 1.22, 0.96),
                                                         (" the", 1.22, 1.36, 0.09), (" end?", 1.36, 1.44, 0.18)],
    "a doubted word in a clear reply": [(" Thank", 3.0, 3.2, 0.10), (" you", 3.2, 3.35, 0.95)],
}


@pytest.mark.parametrize("words", MADE_UP.values(), ids=MADE_UP.keys())
def test_words_whisper_made_up_are_dropped_and_quoted(words):
    segment = _segment("".join(w for w, *_ in words), words[0][1], words[-1][2], words, 0.1)
    assert segment.words == [] and not segment.speech
    skipped = {}
    _report_non_speech([segment], skipped)
    assert skipped["made_up"].startswith("1 stretch") and segment.text in skipped["made_up"]
    assert "non_speech" not in skipped


@pytest.mark.parametrize("words", SAID.values(), ids=SAID.keys())
def test_words_said_are_kept_however_whisper_times_them(words):
    segment = _segment("".join(w for w, *_ in words), words[0][1], words[-1][2], words, 0.1)
    assert segment.speech and [w.text for w in segment.words] == [w for w, *_ in words]


def test_duplicate_channel_check_matches_whole_channel_correlation(agent_speech, customer_speech):
    rng = np.random.default_rng(0)
    n = min(len(agent_speech), len(customer_speech))
    a, b = agent_speech[:n], customer_speech[:n]
    copy = pcm16(a + 0.002 * rng.standard_normal(n))
    for pair, same in (((a, copy), True), ((a, b), False), ((a, np.zeros(n, np.float32)), False)):
        assert _duplicated(list(pair)) == same
        if pair[1].any():
            assert (np.corrcoef(*pair)[0, 1] > 0.98) == same
