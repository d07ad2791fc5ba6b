"""Audio loading: any common call-recording file to float32 channels at 16 kHz.

libsndfile (via soundfile) reads WAV in every PCM/float/mu-law/A-law flavour, FLAC, OGG/Opus and
MP3 quickly and tells us the length from the header; anything else (M4A, AMR, ...) goes through
ffmpeg. Channels are kept apart because a stereo call recording has one party per channel.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000  # what Whisper, silero-vad and resemblyzer expect
MAX_CHANNELS = 2  # one per party; more is a conference or a broken export
DEFAULT_MAX_CALL_MINUTES = 240.0
# A file cut short is decoded as far as its data goes, unless less than this is left.
MIN_TRUNCATED_S = 0.5


class AudioError(ValueError):
    """A file that cannot be scored, with the file and the problem in the message."""


@dataclass
class Audio:
    samples: np.ndarray  # float32, shape (channels, n), in [-1, 1], at SAMPLE_RATE
    source: str  # path or name
    source_sample_rate: int
    source_channels: int
    source_format: str  # e.g. "WAV PCM_16 8000 Hz", "mp3 44100 Hz"

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def duration_ms(self) -> int:
        return int(round(1000 * self.samples.shape[1] / SAMPLE_RATE))

    def channel(self, i: int) -> np.ndarray:
        return self.samples[i]

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0) if self.channels > 1 else self.samples[0]


def default_max_duration_s() -> float:
    return 60 * float(os.environ.get("HOSTSCORE_MAX_CALL_MINUTES", DEFAULT_MAX_CALL_MINUTES))


def load_audio(path, max_duration_s: float | None = None) -> Audio:
    """Decode ``path`` to float32 channels at 16 kHz.

    The length is checked against ``max_duration_s`` (default: env ``HOSTSCORE_MAX_CALL_MINUTES``,
    240 minutes) from the header before the samples are decoded, so an over-long file fails fast.

    Truncated files (an interrupted copy or upload, a recorder that crashed) are decoded as far as
    their data goes: a partial call is still worth scoring. If the header promises more data than
    the file holds and less than ``MIN_TRUNCATED_S`` of audio is present, that is an error.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if not path.is_file():
        raise AudioError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    if max_duration_s is None:
        max_duration_s = default_max_duration_s()

    try:
        info = sf.info(str(path))
    except sf.LibsndfileError:
        samples, sample_rate, source_format = _decode_ffmpeg(path, max_duration_s)
    else:
        samples, sample_rate, source_format = _decode_soundfile(path, info, max_duration_s)

    if samples.shape[1] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if sample_rate != SAMPLE_RATE:
        # soxr resamples all channels of a (n, channels) array at once.
        samples = soxr.resample(samples.T, sample_rate, SAMPLE_RATE).T
    return Audio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        source=str(path),
        source_sample_rate=sample_rate,
        source_channels=samples.shape[0],
        source_format=source_format,
    )


def is_silent(samples: np.ndarray, threshold_dbfs: float = -50.0) -> bool:
    """True when a channel's RMS level is below ``threshold_dbfs`` (a dead line or muted party)."""
    if samples.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return rms == 0.0 or 20 * np.log10(rms) < threshold_dbfs


def _check_header(path: Path, channels: int, duration_s: float | None, max_duration_s: float):
    if channels > MAX_CHANNELS:
        raise AudioError(f"{path}: has {channels} channels; expected mono or stereo (one channel per party)")
    if duration_s is not None and duration_s > max_duration_s:
        raise AudioError(
            f"{path}: is {_minutes(duration_s)} long, over the limit of {_minutes(max_duration_s)}"
            " (set HOSTSCORE_MAX_CALL_MINUTES to change it)"
        )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.1f} s"


def _decode_soundfile(path: Path, info, max_duration_s: float) -> tuple[np.ndarray, int, str]:
    # libsndfile counts frames from the data actually present, so a truncated file has a short
    # duration here; it logs "(should be N)" when the header promised more.
    duration_s = info.frames / info.samplerate if info.frames > 0 else None
    _check_header(path, info.channels, duration_s, max_duration_s)
    if "should be" in info.extra_info and (duration_s or 0) < MIN_TRUNCATED_S:
        raise AudioError(f"{path}: file is truncated (only {duration_s or 0:.2f} s of audio present)")
    try:
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise AudioError(f"{path}: corrupt {info.format} audio: {e}") from e
    return samples.T, sample_rate, f"{info.format} {info.subtype} {info.samplerate} Hz"


def _decode_ffmpeg(path: Path, max_duration_s: float) -> tuple[np.ndarray, int, str]:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioError(f"{path}: not a format libsndfile reads, and ffmpeg is not installed to try it")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,sample_rate,channels:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True,
    )
    streams = json.loads(probe.stdout or "{}").get("streams") if probe.returncode == 0 else None
    if not streams:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "no audio stream"
        raise AudioError(f"{path}: not a recognised audio file ({reason})")
    stream = streams[0]
    channels, sample_rate = int(stream["channels"]), int(stream["sample_rate"])
    duration = json.loads(probe.stdout).get("format", {}).get("duration")
    duration = float(duration) if duration else None
    _check_header(path, channels, duration, max_duration_s)

    # -t stops a stream without a duration in its header from decoding past the limit.
    decode = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-t", str(max_duration_s + 1),
         "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_output=True,
    )
    if decode.returncode != 0:
        reason = decode.stderr.decode(errors="replace").strip()
        raise AudioError(f"{path}: corrupt {stream['codec_name']} audio: {reason}")
    samples = np.frombuffer(decode.stdout, dtype=np.float32).reshape(-1, channels).T
    if duration:
        # AAC decodes to whole 1024-sample frames; the container knows where the audio ends.
        samples = samples[:, : int(round(duration * sample_rate))]
    _check_header(path, channels, samples.shape[1] / sample_rate, max_duration_s)
    return samples, sample_rate, f"{stream['codec_name']} {sample_rate} Hz"
