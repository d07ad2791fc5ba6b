import itertools
import re

import jiwer
import numpy as np
import pytest

from scorer import synth
from scorer.audio import SAMPLE_RATE, load_audio, to_int16
from scorer import vad
from scorer.conversation import Word
from scorer.transcribe import (BEAM_SIZE, BEST_OF, ENGINES, VAD_MIN_SILENCE_MS, VAD_PAD_MS, VAD_THRESHOLD, Segment,
                               _rejoin_stranded_words, load_transcriber, unheard)
from scorer.whisper_features import BlockFeatureExtractor
from scorer.whisper_models import ct2_model_dir

SENTENCE = "Thank you for calling customer support. My name is Sarah, and I can help you reset your password today."
LEAD_S, GAP_S = 2.0, 5.0
CPU_COMPUTE_TYPE = {"faster-whisper": "int8", "openai-whisper": "float32"}
# int8 CTranslate2 and float32 PyTorch kernels differ by CPU (AVX2, AVX-512): the engines may part on
# a word's spelling ("err"/"er"), never on what was said. One word of the 19 differs at most.
MAX_WER_BETWEEN_ENGINES = 0.1


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _text(transcript) -> str:
    return _normalise("".join(w.text for w in transcript.words))


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return synth.synthesize(SENTENCE, "joe")


@pytest.fixture(scope="module")
def call(speech) -> np.ndarray:
    """The sentence twice, after a lead-in and with a long pause between: speech regions that the
    VAD cuts out must come back at their true times."""
    silence = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    return np.concatenate([silence[: int(LEAD_S * SAMPLE_RATE)], speech, silence, speech])


@pytest.fixture(scope="module")
def tiny_by_engine() -> dict:
    return {engine: load_transcriber(engine, "tiny.en", device="cpu") for engine in ENGINES}


@pytest.fixture(params=ENGINES)
def tiny(request, tiny_by_engine):
    return tiny_by_engine[request.param]


def _hold_music() -> np.ndarray:
    t = np.arange(int(2.5 * SAMPLE_RATE)) / SAMPLE_RATE
    chords = [(261.6, 329.6, 392.0), (293.7, 370.0, 440.0), (246.9, 311.1, 370.0), (220.0, 277.2, 329.6)]
    return np.concatenate([sum(0.1 * np.sin(2 * np.pi * f * t) for f in chord) for chord in chords]).astype(np.float32)


def test_transcribes_with_word_times(tiny, speech, call):
    seen = []
    transcript = tiny.transcribe(call, progress=seen.append)

    assert (transcript.engine, transcript.model, transcript.language) == (tiny.engine, "tiny.en", "en")
    assert (transcript.device, transcript.compute_type) == ("cpu", CPU_COMPUTE_TYPE[tiny.engine])
    assert jiwer.wer(_normalise(SENTENCE + " " + SENTENCE), _text(transcript)) < 0.25

    words = transcript.words
    duration_ms = 1000 * len(call) / SAMPLE_RATE
    assert all(isinstance(w.begin_ms, int) and isinstance(w.end_ms, int) for w in words)
    assert all(0 <= w.begin_ms <= w.end_ms <= duration_ms for w in words)
    assert all(a.begin_ms <= b.begin_ms for a, b in zip(words, words[1:]))
    # The second sentence is placed after the gap, not where it sits in the joined-up speech.
    second_ms = 1000 * (LEAD_S + GAP_S + len(speech) / SAMPLE_RATE)
    thanks = [w.begin_ms for w in words if _normalise(w.text) == "thank"]
    assert len(thanks) == 2 and abs(thanks[1] - second_ms) < 700

    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(len(call) / SAMPLE_RATE)


@pytest.mark.parametrize("signal", ["silence", "noise", "hold music"])
def test_no_words_without_speech(tiny, signal):
    samples = {
        "silence": lambda: np.zeros(10 * SAMPLE_RATE, np.float32),
        "noise": lambda: (0.05 * np.random.default_rng(0).standard_normal(10 * SAMPLE_RATE)).astype(np.float32),
        "hold music": _hold_music,
    }[signal]()
    assert tiny.transcribe(samples).words == []


def test_converted_checkpoint_gives_same_words(tiny_by_engine, speech):
    """openai-whisper on our conversion of the CTranslate2 weights hears what faster-whisper hears."""
    words = [_text(tiny_by_engine[engine].transcribe(speech)) for engine in ENGINES]
    assert jiwer.wer(*words) < MAX_WER_BETWEEN_ENGINES, words


def test_base_model_both_engines(speech):
    transcripts = [load_transcriber(engine, "base", device="cpu").transcribe(speech) for engine in ENGINES]
    assert [t.language for t in transcripts] == ["en", "en"]
    words = [_text(t) for t in transcripts]
    assert jiwer.wer(*words) < MAX_WER_BETWEEN_ENGINES, words
    assert all(jiwer.wer(_normalise(SENTENCE), w) < 0.25 for w in words), words


def test_unknown_choices():
    with pytest.raises(ValueError, match="faster-whisper, openai-whisper"):
        load_transcriber("whisperx")
    with pytest.raises(ValueError, match="tiny.en, base"):
        load_transcriber("faster-whisper", "large-v9")


# --- the same numbers as faster-whisper, in bounded memory --------------------------------------


@pytest.fixture(scope="module")
def long_speech(resolved_mono_16k) -> np.ndarray:
    """Over 10,000 VAD windows (320 s), so the model state is carried across blocks, with pauses
    both shorter and longer than the 2 s that splits Whisper's speech regions."""
    import soundfile as sf

    call, rate = sf.read(resolved_mono_16k.path, dtype="float32")
    assert rate == SAMPLE_RATE
    pieces = []
    for pause_s in itertools.cycle((0.6, 3.0, 1.2, 5.0)):
        pieces += [call, np.zeros(int(pause_s * SAMPLE_RATE), np.float32)]
        if sum(map(len, pieces)) > 340 * SAMPLE_RATE:
            return np.concatenate(pieces)


@pytest.mark.parametrize("cut", ["whole", "multiple of the window", "short"])
@pytest.mark.parametrize("threshold, min_silence_ms, pad_ms",
                         [(vad.THRESHOLD, 100, 30), (VAD_THRESHOLD, VAD_MIN_SILENCE_MS, VAD_PAD_MS)])
def test_voice_activity_is_faster_whispers(long_speech, cut, threshold, min_silence_ms, pad_ms):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    samples = {"whole": long_speech, "multiple of the window": long_speech[: vad.WINDOW * 10_500],
               "short": long_speech[SAMPLE_RATE : SAMPLE_RATE + 700]}[cut]
    options = VadOptions(threshold=threshold, min_silence_duration_ms=min_silence_ms, speech_pad_ms=pad_ms)
    theirs = [(s["start"], s["end"]) for s in get_speech_timestamps(samples.copy(), options, sampling_rate=SAMPLE_RATE)]
    ours = vad.speech_samples(samples, min_silence_ms, pad_ms, threshold)
    assert ours == theirs and ours
    # the int16 channels the pipeline holds (this call is 16-bit audio) give the same regions
    assert vad.speech_samples(to_int16(samples), min_silence_ms, pad_ms, threshold) == theirs


def test_block_features_are_faster_whispers(long_speech):
    from faster_whisper.feature_extractor import FeatureExtractor

    whole, blocks = FeatureExtractor(), BlockFeatureExtractor.like(FeatureExtractor())
    for n in (0, 239, 241, 555, len(long_speech) // 3 + 77):
        # the same frames, up to one float32 rounding step: the FFT's sums round differently when it is
        # given a block of frames rather than the whole call (seen: 1.2e-7 on values near 1, 0.1% of
        # them), as they do across CPUs; a wrong frame or band would be off by orders more
        np.testing.assert_allclose(blocks(long_speech[:n]), whole(long_speech[:n]), rtol=0, atol=5e-7)


def test_block_features_of_int16_are_those_of_its_float(long_speech):
    """The pipeline's int16 channels, made float a block at a time, give the same features (this
    call is 16-bit audio, so to_float of its int16 is its float exactly)."""
    from faster_whisper.feature_extractor import FeatureExtractor

    blocks = BlockFeatureExtractor.like(FeatureExtractor())
    for n in (239, len(long_speech) // 3 + 77):
        np.testing.assert_array_equal(blocks(to_int16(long_speech[:n])), blocks(long_speech[:n]))


def test_faster_whisper_words_are_its_own_vad_filters(tiny_by_engine, call):
    """Our voice activity and features in place of faster-whisper's give its very words and times,
    except that a word next to a pause is fitted to its sound: it may begin later or end earlier,
    inside the span faster-whisper gave it. (A word given a pause with its sound, or started well into
    speech that holds no other word, moves outside it: tests below. This call has none.)"""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(ct2_model_dir("tiny.en")), device="cpu", compute_type="int8")
    pieces, _ = model.transcribe(call, language="en", beam_size=BEAM_SIZE, best_of=BEST_OF, word_timestamps=True,
                                 condition_on_previous_text=False, vad_filter=True,
                                 vad_parameters={"threshold": VAD_THRESHOLD, "min_silence_duration_ms": VAD_MIN_SILENCE_MS,
                                                 "speech_pad_ms": VAD_PAD_MS})
    theirs = [(w.word, round(w.start * 1000), round(w.end * 1000)) for s in pieces for w in s.words]
    ours = [(w.text, w.begin_ms, w.end_ms) for w in tiny_by_engine["faster-whisper"].transcribe(call).words]
    assert [text for text, _, _ in ours] == [text for text, _, _ in theirs] and ours
    assert all(b <= a <= e <= f for (_, a, e), (_, b, f) in zip(ours, theirs))


OPENERS = [("CUSTOMER", "Hi, I've just moved into a new flat and I need to set up the account and give you a reading."),
           ("AGENT", "Sure. What's the address?"),
           ("CUSTOMER", "It's flat three, twenty seven Linden Road, just off the high street."),
           ("AGENT", "Okay, I have that property. Is that the electric meter or gas as well?"),
           ("CUSTOMER", "Just electric, it's all electric, and I've got the reading in front of me now."),
           ("AGENT", "Right. Go ahead with the reading when you're ready."),
           ("CUSTOMER", "I'll do the direct debit in the app later, I don't have my card on me at the moment."),
           ("AGENT", "No problem. You'll get a welcome pack by email in the next hour.")]


def test_a_reply_keeps_its_first_word_and_its_time(tiny_by_engine, tmp_path):
    """On a stereo channel each reply follows seconds of the other party's turn. Silero rises slowly at
    the start of band-limited speech, and at the diarization threshold the first second of a reply was
    cut: "Sure.", "Okay,", "Right." and "No problem" were lost. Each opener is heard, and its first word
    begins where it was spoken, not in the other party's turn."""
    script = [synth.ScriptLine(speaker, text, gap_ms=600) for speaker, text in OPENERS]
    truth = synth.make_call(script, tmp_path / "openers.wav", sample_rate=8000, telephone_band=True,
                            customer_voice="joe:450")
    agent = load_audio(truth.path).samples[0]
    for engine, transcriber in tiny_by_engine.items():
        words = transcriber.transcribe(agent).words
        for line in (x for x in truth.lines if x.speaker == "AGENT"):
            heard = [w for w in words if line.begin_ms - 1000 <= w.begin_ms < line.end_ms]
            opener = _normalise(line.text).split()[0]
            assert heard and _normalise(heard[0].text) == opener, (engine, line.text, [w.text for w in heard])
            assert abs(heard[0].begin_ms - line.begin_ms) < 300, (engine, line.text, heard[0].begin_ms, line.begin_ms)


def test_a_word_given_no_length_goes_with_its_neighbour_to_the_sound():
    """Whisper stretched "hasn't" 1.5 s past the end of the sound and gave "called?" no length at
    that end: both are fitted back to where the sound stops, so the other party's reply that starts
    after it is not read as talking over them."""
    from scorer.conversation import Word
    from scorer.transcribe import _fit_to_sound

    samples = np.zeros(6 * SAMPLE_RATE, np.float32)
    samples[1 * SAMPLE_RATE : int(3.3 * SAMPLE_RATE)] = 0.3 * np.sin(np.arange(int(2.3 * SAMPLE_RATE)) * 0.2)
    words = [Word(" Is", 1000, 1500, 0.9), Word(" it", 1500, 2500, 0.9), Word(" hasn't", 2500, 4800, 0.9),
             Word(" called?", 4800, 4800, 0.9), Word(" Next", 5600, 5900, 0.9)]
    _fit_to_sound(words, samples)
    assert words[2].end_ms == pytest.approx(3300, abs=20)
    assert words[3].begin_ms == words[3].end_ms == words[2].end_ms
    assert (words[0].begin_ms, words[1].begin_ms, words[1].end_ms) == (1000, 1500, 2500)  # nothing else moves


def test_a_reply_stretched_over_the_pause_before_it_moves_onto_its_sound():
    """faster-whisper base on a synthesised 8 kHz mono call: the customer's closing "No." (its sound
    56.23-56.41 s) was timed from the end of the agent's "Is there anything else?" to the start of its
    sound, and went to the agent's turn. Moved onto the speech no other word was placed on."""
    from scorer.conversation import Word
    from scorer.transcribe import _onto_wordless_speech

    words = [Word(" Is", 53220, 53330, 0.9), Word(" there", 53330, 53490, 0.9), Word(" anything", 53490, 53870, 0.9),
             Word(" else?", 53870, 54170, 0.9), Word(" No.", 54170, 56230, 0.9)]
    _onto_wordless_speech(words, [(51746, 52446), (53220, 53330), (53442, 54238), (56226, 56414)])
    assert (words[4].begin_ms, words[4].end_ms) == (56226, 56414)
    assert [(w.begin_ms, w.end_ms) for w in words[:4]] == [(53220, 53330), (53330, 53490), (53490, 53870), (53870, 54170)]


def test_a_word_inside_a_sentence_or_before_speech_with_words_stays_where_it_is():
    """"check" is stretched over a pause to the sound after it, but it is inside a sentence; "Sure."
    opens one and is stretched to speech that holds the next word: neither is moved."""
    from scorer.conversation import Word
    from scorer.transcribe import _onto_wordless_speech

    inside = [Word(" let", 1000, 1200, 0.9), Word(" me", 1200, 1300, 0.9), Word(" check", 1300, 3000, 0.9)]
    _onto_wordless_speech(inside, [(1000, 1700), (3000, 3400)])
    assert (inside[2].begin_ms, inside[2].end_ms) == (1300, 3000)
    claimed = [Word(" Yes.", 1000, 1400, 0.9), Word(" Sure.", 1400, 3000, 0.9), Word(" Go", 3000, 3300, 0.9)]
    _onto_wordless_speech(claimed, [(1000, 1500), (3000, 3400)])
    assert (claimed[1].begin_ms, claimed[1].end_ms) == (1400, 3000)


def test_a_reply_whose_first_word_whisper_starts_late_starts_where_its_speech_does():
    """faster-whisper base on the same call: the agent's "PT-009182." (said from 44.28 s) was timed from
    45.92 s, and the agent's 0.8 s to answer read as 2.5 s. The speech before it holds no word."""
    from scorer.conversation import Word
    from scorer.transcribe import _onto_wordless_speech

    words = [Word(" the", 42700, 42900, 0.9), Word(" ticket", 42900, 43100, 0.9), Word(" number?", 43100, 43400, 0.9),
             Word(" TT009182.", 45920, 46480, 0.9)]
    _onto_wordless_speech(words, [(42700, 43500), (44280, 46560)])
    assert (words[3].begin_ms, words[3].end_ms) == (44280, 46480)
    assert [(w.begin_ms, w.end_ms) for w in words[:3]] == [(42700, 42900), (42900, 43100), (43100, 43400)]


def test_speech_whisper_skipped_is_found_between_the_words_it_heard():
    """Whisper's first timestamp in a window can land seconds in (tiny.en jumped from 30.0 s to 53.1 s of
    an 8 kHz mono call): the stretches between heard words that hold 2 s of speech are decoded again,
    from their first speech to their last; pauses and short unheard bits between words are not."""
    regions = [(0, 4000), (4300, 5200), (5500, 7400), (9000, 9400), (12000, 13000)]
    heard = [(100, 900), (800, 1500), (6800, 7300), (12100, 12900)]
    # 1.5-4 s, 4.3-5.2 s and 5.5-6.8 s: 4.6 s of speech unheard; 7.3-12.1 s holds only 0.5 s of speech
    assert unheard(regions, heard, 2000) == [(1500, 6800)]
    assert unheard(regions, [], 2000) == [(0, 13000)]
    assert unheard([], heard, 2000) == []


def _segment(*words: tuple[str, int, int]) -> Segment:
    return Segment(" ".join(w for w, _, _ in words), words[0][1], words[-1][2], [Word(*w) for w in words])


def test_a_first_word_left_at_the_previous_segments_end_rejoins_its_sentence():
    """faster-whisper base on a synthesised stereo call's customer channel: "I" of "I can't thank you
    enough" started where "goodness." ended, 9.2 s before "can't", inside the agent's turn."""
    before = _segment(("Oh,", 50400, 50520), ("thank", 50680, 50740), ("goodness.", 50740, 51120))
    stranded = _segment(("I", 51120, 51190), ("can't", 60420, 60830), ("thank", 60830, 60970), ("enough.", 61150, 61390))
    # voice activity hears the customer before "can't", and only the padded end of "goodness." where "I" is
    _rejoin_stranded_words([before, stranded], [(50380, 51150), (60330, 61420)])
    assert [(w.begin_ms, w.end_ms) for w in stranded.words[:2]] == [(60350, 60420), (60420, 60830)]
    assert stranded.begin_ms == 60350
    assert [(w.begin_ms, w.end_ms) for w in before.words] == [(50400, 50520), (50680, 50740), (50740, 51120)]


def test_words_after_a_real_pause_or_deep_in_a_segment_stay_where_they_are():
    before = _segment(("Hello.", 1000, 1400))
    paused = _segment(("So", 1900, 2100), ("anyway", 6000, 6400))  # not touching the segment before
    # touching the segment before, but its pause comes after three words: a sentence, not a stranded word
    deep = _segment(("Yes", 6400, 7200), ("I", 7200, 7300), ("can", 7300, 7500), ("see", 12000, 12300))
    _rejoin_stranded_words([before, paused, deep], [(1000, 1400), (1900, 2100), (6000, 7500), (12000, 12300)])
    assert [(w.begin_ms, w.end_ms) for w in paused.words] == [(1900, 2100), (6000, 6400)]
    assert [(w.begin_ms, w.end_ms) for w in deep.words] == [(6400, 7200), (7200, 7300), (7300, 7500), (12000, 12300)]


def test_first_words_heard_where_they_are_stay_there():
    """faster-whisper base on c-151's agent channel: "extraordinary circumstances," ends the agent's
    sentence where it was said, and the segment runs on to "operational reasons." 5 s later, after the
    customer's question on the other channel. Moved, they would talk over the customer."""
    before = _segment(("rejected", 20210, 20630), ("due", 20630, 20950), ("to", 20950, 21130))
    run_on = _segment(("extraordinary", 21130, 21750), ("circumstances,", 21750, 22650),
                      ("operational", 27680, 28060), ("reasons.", 28060, 28730))
    _rejoin_stranded_words([before, run_on], [(19640, 22690), (27650, 28760)])
    assert [(w.begin_ms, w.end_ms) for w in run_on.words[:2]] == [(21130, 21750), (21750, 22650)]
    assert run_on.begin_ms == 21130


def test_a_channel_gives_the_same_words_however_often_it_is_transcribed(shipped_scorer, shared_data):
    """Whisper base falls back to sampling on the real caller track; the words must not depend on what
    the process decoded before (CTranslate2 seeds a thread's sampling once: the second transcription
    here differed from the first)."""
    channel = load_audio(shared_data / "calls" / "aws_lca_Auto_Repairs_40_UTC_caller.wav").mono()
    first, second = ([(w.text, w.begin_ms, w.end_ms) for w in shipped_scorer.transcriber.transcribe(channel).words]
                     for _ in range(2))
    assert second == first
