"""Voice activity: where someone is speaking, by silero-vad.

One implementation for the whole pipeline: the ONNX copy of silero-vad that faster-whisper ships
(nothing is downloaded), so both Whisper engines and diarization agree on what is speech.
"""

from __future__ import annotations

import numpy as np

from .audio import SAMPLE_RATE

# silero's default threshold (0.5) misses much band-limited 8 kHz telephone speech; 0.35 keeps it
# while hold music and line noise still fall below (tests/test_transcribe.py checks both).
THRESHOLD = 0.35


def speech_samples(samples: np.ndarray, min_silence_ms: int = 100, pad_ms: int = 30) -> list[tuple[int, int]]:
    """Speech as (begin, end) sample ranges of 16 kHz mono audio. Pauses shorter than
    ``min_silence_ms`` do not split a region; each region is padded by ``pad_ms``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=THRESHOLD, min_silence_duration_ms=min_silence_ms, speech_pad_ms=pad_ms)
    stamps = get_speech_timestamps(np.ascontiguousarray(samples, dtype=np.float32), options, sampling_rate=SAMPLE_RATE)
    return [(s["start"], s["end"]) for s in stamps]


def speech_regions(samples: np.ndarray, min_silence_ms: int = 100, pad_ms: int = 30) -> list[tuple[int, int]]:
    """The same as (begin_ms, end_ms)."""
    return [(a * 1000 // SAMPLE_RATE, b * 1000 // SAMPLE_RATE) for a, b in speech_samples(samples, min_silence_ms, pad_ms)]


# Less speech than this in a whole channel is a click or a breath, not a party talking.
MIN_SPEECH_MS = 250
SCAN_CHUNK_S = 60
# A minute that never rises above this (a few steps of 16-bit audio) holds nothing audible, however
# quiet the recording: speech at -55 dBFS RMS peaks near -40 dBFS. Skipping it keeps a dead channel cheap.
INAUDIBLE_PEAK = 10 ** (-70 / 20)


def has_speech(samples: np.ndarray) -> bool:
    """Whether silero finds at least MIN_SPEECH_MS of speech in a channel, whatever its level:
    speech recorded quietly (-50 dBFS and below) is still speech, while digital silence, line noise
    and hold music are not. Reads a minute at a time and stops as soon as speech is found, so a live
    channel costs a second or so."""
    needed = MIN_SPEECH_MS * SAMPLE_RATE // 1000
    found = 0
    step = SCAN_CHUNK_S * SAMPLE_RATE
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        if np.abs(chunk).max() > INAUDIBLE_PEAK:
            found += sum(b - a for a, b in speech_samples(chunk))
            if found >= needed:
                return True
    return False
