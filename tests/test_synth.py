"""The synthesised calls' truth must match their audio, or every test built on them is wrong."""

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from scorer import synth
from scorer.conversation import AGENT, CUSTOMER
from scorer.settings import settings


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def read(truth: synth.CallTruth) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(truth.path, dtype="float32", always_2d=True)
    return audio, rate


def span(audio, rate, begin_ms, end_ms):
    return audio[begin_ms * rate // 1000 : end_ms * rate // 1000]


def test_stereo_puts_each_party_on_its_own_channel(resolved_stereo_16k):
    audio, rate = read(resolved_stereo_16k)
    assert audio.shape[1] == 2 and rate == 16000
    for line in resolved_stereo_16k.lines:
        own, other = (0, 1) if line.speaker == AGENT else (1, 0)
        part = span(audio, rate, line.begin_ms, line.end_ms)
        assert rms(part[:, own]) > 0.02, line.text
        assert rms(part[:, other]) < 1e-3 * rms(part[:, own]), line.text


def test_line_times_are_where_speech_is(resolved_stereo_16k):
    audio, rate = read(resolved_stereo_16k)
    for line in resolved_stereo_16k.lines:
        ch = audio[:, 0 if line.speaker == AGENT else 1]
        # Speech right at both edges of the line (trimmed synth), none just outside them.
        assert np.abs(span(ch, rate, line.begin_ms, line.begin_ms + 30)).max() > 0.005
        assert np.abs(span(ch, rate, line.end_ms - 30, line.end_ms)).max() > 0.005
        assert np.abs(span(ch, rate, line.begin_ms - 100, line.begin_ms - 5)).max() < 1e-3
        assert np.abs(span(ch, rate, line.end_ms + 5, line.end_ms + 100)).max() < 1e-3
    assert abs(resolved_stereo_16k.duration_ms - 1000 * len(audio) / rate) <= 1


def test_planned_silence_and_interruption_are_found(angry_stereo_16k):
    audio, rate = read(angry_stereo_16k)
    [(begin, end)] = angry_stereo_16k.silences(min_ms=5000)
    assert 5500 <= end - begin <= 6500
    assert np.abs(span(audio, rate, begin + 5, end - 5)).max() < 1e-3

    [(interrupter, interrupted, begin, end)] = angry_stereo_16k.overlaps()
    assert (interrupter, interrupted) == (AGENT, CUSTOMER)
    assert end - begin >= 1000
    both = span(audio, rate, begin, end)
    assert rms(both[:, 0]) > 0.02 and rms(both[:, 1]) > 0.02


def test_telephone_band_8k(resolved_stereo_8k, resolved_stereo_16k):
    info = sf.info(resolved_stereo_8k.path)
    assert (info.samplerate, info.channels, info.subtype) == (8000, 2, "PCM_16")
    assert abs(resolved_stereo_8k.duration_ms - resolved_stereo_16k.duration_ms) <= 2

    def low_share(truth):  # share of the agent channel's energy below 250 Hz
        audio, rate = read(truth)
        power = np.abs(np.fft.rfft(audio[:, 0])) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1 / rate)
        return power[freqs < 250].sum() / power.sum()

    assert low_share(resolved_stereo_8k) < 0.1 * low_share(resolved_stereo_16k)


def test_mono_mixes_both_parties(resolved_mono_8k):
    audio, rate = read(resolved_mono_8k)
    assert audio.shape[1] == 1 and rate == 8000
    for line in resolved_mono_8k.lines:
        assert rms(span(audio, rate, line.begin_ms, line.end_ms)) > 0.01, line.text


def pitch_ratio(shifted: np.ndarray, plain: np.ndarray, rate: int) -> float:
    """How much higher ``shifted`` is than ``plain``, as a frequency factor: the lag that best lines up
    the harmonics of their average spectra on a log-frequency axis (10-cent steps, 80 Hz-4 kHz). An F0 tracker is not
    used: piper renders some lines in creaky voice (one plain joe line at 74 Hz with a fifth of its
    frames voiced), where trackers lose the pitch, while the whole spectrum still moves by the factor."""
    cents = np.arange(0, 1200 * np.log2(4000 / 80), 10)
    grid = 80 * 2 ** (cents / 1200)

    def log_spectrum(audio):
        power = np.abs(librosa.stft(audio, n_fft=4096, hop_length=512)).mean(axis=1)
        level = np.log(np.interp(grid, librosa.fft_frequencies(sr=rate, n_fft=4096), power) + 1e-9)
        # less the envelope (a 200-cent moving average): sox keeps the formants where they were and moves
        # the harmonics, so the harmonics are what to line up
        return level - np.convolve(level, np.ones(21) / 21, mode="same")

    a, b = log_spectrum(shifted), log_spectrum(plain)
    a, b = a - a.mean(), b - b.mean()
    lags = np.arange(-60, 61)  # +-600 cents
    fit = [np.dot(a[max(0, k):len(a) + min(0, k)], b[max(0, -k):len(b) - max(0, k)]) for k in lags]
    return float(2 ** (10 * lags[int(np.argmax(fit))] / 1200))


@pytest.mark.parametrize("voice", ["joe", "espeak"])
def test_pitch_and_gain_move_the_right_way(voice):
    text = "I can fix that for you right now."
    plain = synth.synthesize(text, voice)
    higher = synth.synthesize(text, voice, pitch_cents=300)
    lower = synth.synthesize(text, voice, pitch_cents=-300)
    louder = synth.synthesize(text, voice, gain_db=6.0)

    up, down = pitch_ratio(higher, plain, 16000), pitch_ratio(plain, lower, 16000)
    # Three semitones is a factor of about 1.19 either way.
    assert 1.1 < up < 1.3, up
    assert 1.1 < down < 1.3, down
    assert 1.8 < rms(louder) / rms(plain) < 2.2


def test_synthesis_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HOSTSCORE_CACHE", str(tmp_path))
    settings.cache_clear()  # settings are read once per process: read the new cache folder
    try:
        first = synth.synthesize("Cache me.", "espeak:en-us+f3", sample_rate=8000)
        assert len(list((tmp_path / "synth").glob("*.wav"))) == 1
        assert first.dtype == np.float32 and len(first) > 0.3 * 8000
        np.testing.assert_array_equal(synth.synthesize("Cache me.", "espeak:en-us+f3", sample_rate=8000),
                                      first)
    finally:
        settings.cache_clear()


def test_piper_renders_a_line_the_same_each_time():
    """Piper samples a line's prosody: unseeded, two renderings of one line differed in length by up to
    5% and a one-voice call split into two voices on some renderings only. Rendered twice without the
    cache, the line is the same; the tolerance allows onnxruntime's kernels to round differently."""
    text = "Thanks for calling, how can I help you today? It's about five minutes right now."
    first, rate = synth._piper(text, 1.0)
    again, _ = synth._piper(text, 1.0)
    assert rate == 22050 and len(first) > 2 * rate
    assert len(again) == len(first)
    np.testing.assert_allclose(again, first, atol=1e-4)


def test_truth_silences_and_overlaps():
    truth = synth.CallTruth(Path("x.wav"), 10000, [
        synth.TruthLine(AGENT, "a", 500, 3000),
        synth.TruthLine(CUSTOMER, "b", 2500, 4000),  # customer cuts in
        synth.TruthLine(AGENT, "c", 9000, 9500),
    ], 16000, "stereo")
    assert truth.silences() == [(0, 500), (4000, 9000), (9500, 10000)]
    assert truth.silences(min_ms=1000) == [(4000, 9000)]
    assert truth.overlaps() == [(CUSTOMER, AGENT, 2500, 3000)]


def test_long_call_script():
    script = synth.long_call(4)
    assert script[0].speaker == AGENT and "Northwind Energy" in script[0].text
    assert all(a.speaker != b.speaker for a, b in zip(script, script[1:]))
    words = sum(len(line.text.split()) for line in script)
    assert 2.0 * 240 < words < 3.5 * 240  # conversational speech runs at 2-3.5 words a second
    assert len({line.text for line in script}) >= 20


def test_customer_first_scripts():
    script = synth.long_call(5, customer_first=True)
    assert script[0].speaker == CUSTOMER and script[1].speaker == AGENT
    assert all(a.speaker != b.speaker for a, b in zip(script, script[1:]))
    assert "thank you for calling" not in script[1].text.lower()
    booking = synth.BOOKING_CALL
    assert booking[0].speaker == CUSTOMER and booking[-1].speaker == CUSTOMER
    agent_text = " ".join(line.text.lower() for line in booking if line.speaker == AGENT)
    assert not any(phrase in agent_text for phrase in ("thank you for calling", "how can i help", "anything else"))
