"""Audio loading: any common call-recording file to 16-bit channels at 16 kHz.

libsndfile (via soundfile) reads WAV in every PCM/float/mu-law/A-law flavour, FLAC, OGG/Opus and
MP3 quickly and tells us the length from the header; anything else (M4A, AMR, ...) goes through
ffmpeg. Channels are kept apart because a stereo call recording has one party per channel.

Files are decoded and resampled in blocks into one preallocated int16 array, so a 4-hour call
costs its 16 kHz samples at 2 bytes each (115 MB per channel-hour, half of float32) and little
more; 16 bits hold telephone audio without loss (its noise floor is far above -96 dB). The stages
read the channels a block at a time through ``to_float``, so no channel is held whole as float. What was wrong with a file that could still be scored (cut
short, damaged samples, float samples beyond full scale) is kept in ``Audio.notes`` and reported
with the result under ``skipped``.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .settings import settings

SAMPLE_RATE = 16000  # what Whisper, silero-vad and resemblyzer expect
MAX_CHANNELS = 2  # one per party; more is a conference or a broken export
# Telephone audio is 8 kHz and studio audio at most 384 kHz; a header outside this is broken.
MIN_SOURCE_RATE, MAX_SOURCE_RATE = 4000, 384000
# A file cut short is decoded as far as its data goes, unless less than this is left.
MIN_TRUNCATED_S = 0.5
# Decoded length this far short of the header's is a file cut short (encoder padding is less).
TRUNCATED_TOLERANCE_S = 0.25
# Up to this share of NaN/infinite samples is set to silence and noted; more is a damaged file.
MAX_NONFINITE_SHARE = 0.001
# Float samples beyond +-1 this rare are clipping spikes and are clipped; more means the whole
# signal is on another scale, and it is scaled down instead.
MAX_CLIPPED_SHARE = 0.001
BLOCK_S = 60  # seconds decoded and resampled at a time
INT16_SCALE = 32768  # int16 sample k is k / 32768 of full scale, as libsndfile reads PCM_16


class AudioError(ValueError):
    """A file that cannot be scored, with the file and the problem in the message."""


@dataclass
class Audio:
    samples: np.ndarray  # int16, shape (channels, n), at SAMPLE_RATE: read it through to_float
    source: str  # path or name
    source_sample_rate: int
    source_channels: int
    source_format: str  # e.g. "WAV PCM_16 8000 Hz", "mp3 44100 Hz"
    # What was wrong with the file but still let it be scored, e.g. {"audio.truncated": "..."}.
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def duration_ms(self) -> int:
        return int(round(1000 * self.samples.shape[1] / SAMPLE_RATE))

    def channel(self, i: int) -> np.ndarray:
        """Channel ``i`` as float32 in [-1, 1]: a copy, twice the int16 channel's memory."""
        return to_float(self.samples[i])

    def mono(self) -> np.ndarray:
        """The channels averaged, float32 in [-1, 1]."""
        return to_float(self.samples).mean(axis=0) if self.channels > 1 else self.channel(0)


def to_float(samples: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] of a stretch of samples: int16 (what ``Audio`` holds) scaled by 1/32768,
    exactly as libsndfile reads 16-bit PCM; float as it is."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples.astype(np.float32) * np.float32(1 / INT16_SCALE)
    return samples.astype(np.float32, copy=False)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """int16 of float samples, rounded; beyond full scale is clipped."""
    return np.clip(np.round(samples * np.float32(INT16_SCALE)), -INT16_SCALE, INT16_SCALE - 1).astype(np.int16)


def default_max_duration_s() -> float:
    return settings().max_call_s


def check_file(path: Path, error: type[ValueError] = ValueError) -> None:
    """Raise ``error`` naming ``path`` unless it is a regular, non-empty file.

    Special files are refused before they are opened: reading a named pipe blocks until someone
    writes to it, and a device never ends."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: broken symbolic link" if path.is_symlink() else f"{path}: file not found") from None
    except OSError as e:
        reason = "a loop of symbolic links" if e.errno == errno.ELOOP else (e.strerror or str(e)).lower()
        raise error(f"{path}: cannot be opened ({reason})") from None
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISSOCK: "a socket",
             stat.S_ISCHR: "a device", stat.S_ISBLK: "a device"}
    for test, kind in kinds.items():
        if test(info.st_mode):
            raise error(f"{path}: is {kind}, not a file")
    if not os.access(path, os.R_OK):
        raise error(f"{path}: cannot be read (permission denied)")
    if info.st_size == 0:
        raise error(f"{path}: file is empty (0 bytes)")


def load_audio(path, max_duration_s: float | None = None) -> Audio:
    """Decode ``path`` to int16 channels at 16 kHz.

    The length is checked against ``max_duration_s`` (default: env ``HOSTSCORE_MAX_CALL_MINUTES``,
    240 minutes) from the header before the samples are decoded, so an over-long file fails fast.

    Truncated files (an interrupted copy or upload, a recorder that crashed) are decoded as far as
    their data goes, with a note: a partial call is still worth scoring. If less than
    ``MIN_TRUNCATED_S`` of audio is present, that is an error.
    """
    path = Path(path)
    check_file(path, AudioError)
    if max_duration_s is None:
        max_duration_s = default_max_duration_s()
    if not 0 < max_duration_s < float("inf"):  # NaN fails this too, rather than switching the limit off
        raise ValueError(f"max_duration_s must be a number of seconds above 0, not {max_duration_s!r}")

    try:
        # libsndfile's MP3 decoder prints its complaints straight to the terminal; ffmpeg's are caught.
        info = None if _is_mp3(path) else sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        info = None

    def decode(gain: float = 1.0) -> _Decoded:
        if info is None:
            return _decode_ffmpeg(path, max_duration_s, gain)
        return _decode_soundfile(path, info, max_duration_s, gain)

    decoded = decode()
    if decoded.off_scale:
        # float samples on another scale (e.g. +-20): int16 holds only full scale, so the file is
        # decoded again scaled down to it, rather than every loud sample clipped
        peak = decoded.peak
        del decoded  # not two copies of a long call at once
        decoded = decode(1 / peak)
    samples, notes = decoded.checked(path)
    if samples.shape[1] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if decoded.expected_s is not None and decoded.expected_s - decoded.decoded_s > TRUNCATED_TOLERANCE_S:
        if decoded.decoded_s < MIN_TRUNCATED_S:
            raise AudioError(f"{path}: file is truncated (only {decoded.decoded_s:.2f} s of audio present)")
        notes["audio.truncated"] = (f"the file is cut short: its header promises {_minutes(decoded.expected_s)},"
                                    f" only {_minutes(decoded.decoded_s)} is there; the partial call was scored")
    return Audio(samples, str(path), decoded.rate, decoded.channels, decoded.format, notes)


def _check_header(path: Path, channels: int, rate: int, duration_s: float | None, max_duration_s: float):
    if channels < 1:
        raise AudioError(f"{path}: the header says the file has no channels")
    if channels > MAX_CHANNELS:
        raise AudioError(f"{path}: has {channels} channels; expected mono or stereo (one channel per party)")
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise AudioError(f"{path}: the header gives a sample rate of {rate} Hz, outside {MIN_SOURCE_RATE}-"
                         f"{MAX_SOURCE_RATE} Hz: the header is damaged")
    if duration_s is not None and duration_s > max_duration_s:
        raise AudioError(
            f"{path}: is {_minutes(duration_s)} long, over the limit of {_minutes(max_duration_s)}"
            " (set HOSTSCORE_MAX_CALL_MINUTES to change it)"
        )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.1f} s"


class _Decoded:
    """Blocks of (frames, channels) float32 at the source rate, multiplied by ``gain``, resampled to
    16 kHz as they come and stored as int16 in one array that grows only when the header
    underestimated the length. Damaged samples and the level are counted before the gain."""

    def __init__(self, rate: int, channels: int, expected_s: float | None, source_format: str, gain: float = 1.0):
        self.rate, self.channels, self.expected_s, self.format = rate, channels, expected_s, source_format
        self.gain = gain
        self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, channels, dtype="float32") if rate != SAMPLE_RATE else None
        capacity = int((expected_s or BLOCK_S) * SAMPLE_RATE) + SAMPLE_RATE
        self._out = np.empty((channels, capacity), dtype=np.int16)
        self._n = 0
        self.frames_in = self.nonfinite = self.beyond_full_scale = 0
        self.peak = 0.0
        self.decoder_errors: list[str] = []

    @property
    def decoded_s(self) -> float:
        return self.frames_in / self.rate

    @property
    def off_scale(self) -> bool:
        """Whether so many float samples are beyond full scale that the signal is on another scale."""
        return self.beyond_full_scale / max(1, self.frames_in * self.channels) > MAX_CLIPPED_SHARE

    def add(self, block: np.ndarray, last: bool = False):
        self.frames_in += len(block)
        finite = np.isfinite(block)
        if not finite.all():
            self.nonfinite += int(block.size - finite.sum())
            block = np.where(finite, block, np.float32(0))
        if block.size:
            peak = float(np.abs(block).max())
            if peak > 1.0:
                self.beyond_full_scale += int(np.count_nonzero(np.abs(block) > 1.0))
                self.peak = max(self.peak, peak)
        if self.gain != 1.0:
            block = block * np.float32(self.gain)
        out = self._stream.resample_chunk(block, last=last) if self._stream else block
        if self._n + len(out) > self._out.shape[1]:
            grown = np.empty((self.channels, max(self._n + len(out), int(self._out.shape[1] * 1.5))), np.int16)
            grown[:, : self._n] = self._out[:, : self._n]
            self._out = grown
        # resampling can overshoot full scale by a little on loud audio: to_int16 clips it
        self._out[:, self._n : self._n + len(out)] = to_int16(out.T)
        self._n += len(out)

    def finish(self, limit_s: float | None = None):
        self.add(np.zeros((0, self.channels), np.float32), last=True)
        if limit_s is not None:
            # AAC decodes to whole 1024-sample frames; the container knows where the audio ends.
            self._n = min(self._n, int(round(limit_s * SAMPLE_RATE)))
            self.frames_in = min(self.frames_in, int(round(limit_s * self.rate)))

    def checked(self, path: Path) -> tuple[np.ndarray, dict[str, str]]:
        """The samples, with damaged ones silenced and the level brought within full scale (clipped,
        or scaled by the gain), and notes saying what was done; an error when too much of the file
        is damaged."""
        # A view, not a copy: copying a long call would double its memory for a moment.
        samples = self._out[:, : self._n]
        notes = {}
        total = max(1, self.frames_in * self.channels)
        if self.nonfinite:
            share = self.nonfinite / total
            if share > MAX_NONFINITE_SHARE:
                raise AudioError(f"{path}: {100 * share:.1f}% of the samples are not numbers (NaN or infinite):"
                                 " the audio data is damaged")
            notes["audio.samples"] = f"{self.nonfinite} samples were not numbers (NaN or infinite) and were set to silence"
        if self.beyond_full_scale:
            if not self.off_scale:
                notes["audio.level"] = (f"{self.beyond_full_scale} float samples beyond full scale (up to"
                                        f" {self.peak:.1f}, where 1.0 is full scale) were clipped")
            else:
                notes["audio.level"] = (f"float samples reach {self.peak:.1f}, beyond full scale (1.0): the signal was"
                                        f" scaled down by {20 * np.log10(self.peak):.1f} dB, so loudness is relative")
        if self.decoder_errors:
            notes["audio.damaged"] = (f"the decoder reported {len(self.decoder_errors)} damaged parts (first:"
                                      f" {self.decoder_errors[0]}); what could be decoded was scored")
        return samples, notes


def _decode_soundfile(path: Path, info, max_duration_s: float, gain: float = 1.0) -> _Decoded:
    # libsndfile counts WAV frames from the data actually present and logs "(should be N)" when
    # the header promised more; MP3 frames come from the Xing header, so a cut MP3 reads short.
    duration_s = info.frames / info.samplerate if info.frames > 0 and info.samplerate > 0 else None
    _check_header(path, info.channels, info.samplerate, duration_s, max_duration_s)
    decoded = _Decoded(info.samplerate, info.channels, duration_s, f"{info.format} {info.subtype} {info.samplerate} Hz",
                       gain)
    promised = re.search(r"data : (\d+) \(should be \d+\)", info.extra_info)
    block_align = re.search(r"Block Align\s*:\s*(\d+)", info.extra_info)
    if promised and block_align and int(block_align.group(1)) > 0:
        # A WAV cut short: the header's data size says how long it was meant to be.
        decoded.expected_s = int(promised.group(1)) / int(block_align.group(1)) / info.samplerate
    try:
        with sf.SoundFile(str(path)) as f:
            while len(block := f.read(BLOCK_S * info.samplerate, dtype="float32", always_2d=True)):
                decoded.add(block)
                # a header that gave no length, or a wrong one, does not let a file run past the limit
                _check_header(path, info.channels, info.samplerate, decoded.decoded_s, max_duration_s)
    except (sf.LibsndfileError, RuntimeError) as e:
        if decoded.decoded_s < MIN_TRUNCATED_S:
            raise AudioError(f"{path}: damaged {info.format} audio ({_one_line(str(e))})") from None
        decoded.decoder_errors.append(_one_line(str(e)))
    decoded.finish()
    return decoded


def _decode_ffmpeg(path: Path, max_duration_s: float, gain: float = 1.0) -> _Decoded:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioError(f"{path}: not a format libsndfile reads, and ffmpeg is not installed to try it")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,sample_rate,channels:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, errors="replace",
    )
    try:
        found = json.loads(probe.stdout or "{}") if probe.returncode == 0 else {}
    except json.JSONDecodeError:
        found = {}
    stream = (found.get("streams") or [{}])[0]
    if not stream.get("codec_name") or not str(stream.get("sample_rate", "")).isdigit() or not stream.get("channels"):
        # ffprobe starts its complaint with the path, which the message already gives
        reason = _one_line(probe.stderr).removeprefix(f"{path}: ") if probe.stderr.strip() else (
            "the header describes no audio format a decoder knows" if stream else "no audio stream")
        raise AudioError(f"{path}: not a recognised audio file ({reason})")
    channels, sample_rate, codec = int(stream["channels"]), int(stream["sample_rate"]), stream["codec_name"]
    try:
        duration = float(found.get("format", {}).get("duration") or "nan")
    except ValueError:
        duration = float("nan")
    duration = duration if np.isfinite(duration) and duration > 0 else None
    _check_header(path, channels, sample_rate, duration, max_duration_s)

    decoded = _Decoded(sample_rate, channels, duration, f"{codec} {sample_rate} Hz", gain)
    block_bytes = BLOCK_S * sample_rate * channels * 4
    with tempfile.TemporaryFile() as errors:
        # -t stops a stream without a duration in its header from decoding past the limit.
        process = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-t", str(max_duration_s + 1),
             "-f", "f32le", "-acodec", "pcm_f32le", "-"],
            stdout=subprocess.PIPE, stderr=errors,
        )
        try:
            pending = b""
            while chunk := process.stdout.read(block_bytes):
                pending += chunk
                whole = len(pending) // (4 * channels) * 4 * channels
                decoded.add(np.frombuffer(pending[:whole], dtype=np.float32).reshape(-1, channels))
                pending = pending[whole:]
            returncode = process.wait()
        finally:
            if process.poll() is None:  # interrupted: do not leave ffmpeg running
                process.kill()
                process.wait()
        errors.seek(0)
        messages = [_one_line(line) for line in errors.read().decode(errors="replace").splitlines() if line.strip()]
    decoded.finish(duration)
    if returncode != 0 or messages:
        if decoded.decoded_s < MIN_TRUNCATED_S:
            reason = messages[0] if messages else f"ffmpeg exit status {returncode}"
            raise AudioError(f"{path}: damaged {codec} audio ({reason})")
        decoded.decoder_errors = messages or [f"ffmpeg exit status {returncode}"]
    _check_header(path, channels, sample_rate, decoded.decoded_s, max_duration_s)
    return decoded


def _is_mp3(path: Path) -> bool:
    with path.open("rb") as f:
        start = f.read(3)
    return start == b"ID3" or (len(start) >= 2 and start[0] == 0xFF and start[1] & 0xE0 == 0xE0)


def _one_line(message: str, limit: int = 160) -> str:
    """The first line of a decoder's message, without ffmpeg's "[codec @ 0x...]" prefix."""
    line = next((l.strip() for l in message.splitlines() if l.strip()), "")
    line = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", line)
    return line if len(line) <= limit else line[: limit - 3] + "..."
