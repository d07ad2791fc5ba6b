import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scorer.audio import SAMPLE_RATE, AudioError, load_audio
from scorer.vad import has_speech
from scorer.settings import settings

SENTENCE = "Thank you for calling. How can I help you today?"

# sox encodings for WAV: (name, sox arguments)
WAV_ENCODINGS = {
    "pcm_u8": ["-e", "unsigned-integer", "-b", "8"],
    "pcm_16": ["-e", "signed-integer", "-b", "16"],
    "pcm_24": ["-e", "signed-integer", "-b", "24"],
    "pcm_32": ["-e", "signed-integer", "-b", "32"],
    "float": ["-e", "floating-point", "-b", "32"],
    "mu-law": ["-e", "mu-law", "-b", "8"],
    "a-law": ["-e", "a-law", "-b", "8"],
}
# ffmpeg encoders by file extension
COMPRESSED = {"mp3": "libmp3lame", "flac": "flac", "opus": "libopus", "m4a": "aac"}
RATES = (8000, 16000, 44100)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True)
    return path


def _duration_ms(path: Path) -> float:
    info = sf.info(str(path))
    return 1000 * info.frames / info.samplerate


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("encoding", WAV_ENCODINGS)
def test_wav_encodings(speech, tmp_path, encoding, rate):
    path = tmp_path / f"{encoding}.wav"
    subprocess.run(["sox", str(speech), *WAV_ENCODINGS[encoding], "-r", str(rate), str(path)], check=True)
    audio = load_audio(path)
    assert audio.channels == 1 and audio.samples.dtype == np.int16
    assert audio.source_sample_rate == rate and audio.source_format.startswith("WAV")
    assert abs(audio.duration_ms - _duration_ms(speech)) < 50
    assert has_speech(audio.channel(0))


def test_samples_are_held_as_int16_without_loss(tmp_path):
    """A 16-bit 16 kHz file is held sample for sample; float audio is rounded to the nearest of
    65,536 steps (-96 dB), far below the noise of any telephone line."""
    rng = np.random.default_rng(0)
    pcm = rng.integers(-32768, 32768, SAMPLE_RATE, dtype=np.int16)
    sf.write(tmp_path / "pcm.wav", pcm, SAMPLE_RATE, subtype="PCM_16")
    assert np.array_equal(load_audio(tmp_path / "pcm.wav").samples[0], pcm)
    floats = rng.uniform(-0.999, 0.999, SAMPLE_RATE).astype(np.float32)
    sf.write(tmp_path / "float.wav", floats, SAMPLE_RATE, subtype="FLOAT")
    assert np.abs(load_audio(tmp_path / "float.wav").channel(0) - floats).max() <= 0.5 / 32768


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("ext", COMPRESSED)
def test_compressed_formats(speech, tmp_path, ext, rate):
    if ext == "opus" and rate == 44100:
        rate = 48000  # Opus has no 44.1 kHz mode
    path = tmp_path / f"speech.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(speech), "-ar", str(rate), "-c:a", COMPRESSED[ext], str(path)],
                   check=True)
    audio = load_audio(path)
    assert audio.channels == 1
    # Lossy codecs may shift the end by an encoder delay of a few ms.
    assert abs(audio.duration_ms - _duration_ms(speech)) < 50
    assert has_speech(audio.channel(0))


def test_stereo_keeps_channels_and_finds_dead_one(speech, tmp_path):
    path = tmp_path / "stereo.wav"
    mono, rate = sf.read(str(speech), dtype="float32")
    sf.write(str(path), np.stack([mono, np.zeros_like(mono)], axis=1), rate)
    audio = load_audio(path)
    assert audio.channels == 2 and audio.source_channels == 2
    assert has_speech(audio.channel(0))
    assert not has_speech(audio.channel(1))
    assert audio.mono().shape == (audio.samples.shape[1],)


def test_more_than_two_channels(tmp_path):
    path = tmp_path / "three.wav"
    sf.write(str(path), np.zeros((SAMPLE_RATE, 3), dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match="three.wav.*3 channels"):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="nothere.wav.*not found"):
        load_audio(tmp_path / "nothere.wav")


def test_zero_bytes(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioError, match="empty.wav.*0 bytes"):
        load_audio(path)


def test_text_renamed_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("Call notes: customer wants a refund.\n" * 20)
    with pytest.raises(AudioError, match="notes.wav.*not a recognised audio file") as e:
        load_audio(path)
    assert str(e.value).count(str(path)) == 1  # ffprobe's complaint starts with the path too


def test_truncated_wav(speech, tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(speech.read_bytes()[:44 + 16])  # header and a few samples
    with pytest.raises(AudioError, match="cut.wav.*truncated"):
        load_audio(path)


def test_truncated_wav_with_enough_audio_decodes_what_is_there(speech, tmp_path):
    data = speech.read_bytes()
    path = tmp_path / "half.wav"
    path.write_bytes(data[: len(data) // 2])
    audio = load_audio(path)
    assert abs(audio.duration_ms - _duration_ms(speech) / 2) < 50
    assert "cut short" in audio.notes["audio.truncated"]
    assert load_audio(speech).notes == {}


@pytest.mark.parametrize("ext", ["wav", "m4a"])
def test_too_long(speech, tmp_path, ext):
    path = tmp_path / f"long.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(speech), str(path)], check=True)
    with pytest.raises(AudioError, match=f"long.{ext}.*over the limit"):
        load_audio(path, max_duration_s=1.0)


@pytest.fixture
def fresh_settings():
    """Settings are read once per process: read them again for this test, and after it."""
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_max_duration_from_env(speech, monkeypatch, fresh_settings):
    monkeypatch.setenv("HOSTSCORE_MAX_CALL_MINUTES", "0.01")
    with pytest.raises(AudioError, match="over the limit"):
        load_audio(speech)


def test_shared_calls_decode(shared_data):
    wavs = sorted((shared_data / "calls").glob("*.wav"))
    assert wavs, f"no call recordings in {shared_data / 'calls'}"
    for path in wavs:
        audio = load_audio(path)
        assert audio.channels in (1, 2), path
        assert abs(audio.duration_ms - _duration_ms(path)) < 50, path
