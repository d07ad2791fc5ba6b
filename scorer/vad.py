"""Voice activity: where someone is speaking, by silero-vad.

One implementation for the whole pipeline: the ONNX copy of silero-vad that faster-whisper ships
(nothing is downloaded), so both Whisper engines and diarization agree on what is speech.

faster-whisper's ``get_speech_timestamps`` runs the model over a whole channel at once, through
two padded copies of it (640 MB more for a 58-minute call). Here the model runs a block of
windows at a time, carrying its state from block to block exactly as faster-whisper does between
its own batches, so the probabilities are the same numbers; the regions are then found from them
by the same rules (tests/test_transcribe.py checks both against faster-whisper's function).
"""

from __future__ import annotations

import numpy as np

from .audio import SAMPLE_RATE, to_float

# silero's default threshold (0.5) misses much band-limited 8 kHz telephone speech; 0.35 keeps it
# while hold music and line noise still fall below (tests/test_transcribe.py checks both).
THRESHOLD = 0.35
# Below the threshold by this much a speech region may end (silero's default).
NEG_MARGIN = 0.15
WINDOW = 512  # samples per probability at 16 kHz
CONTEXT = 64  # samples of the previous window the model sees with each window
BLOCK_WINDOWS = 10_000  # windows per model run: faster-whisper's batch, so its state carries at the same places


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """silero's speech probability for each WINDOW samples of 16 kHz mono audio, int16 or float
    (the last window padded with zeros; a whole window of them when the length is a multiple of
    WINDOW)."""
    from faster_whisper.vad import get_vad_model

    session = get_vad_model().session
    n_windows = len(samples) // WINDOW + 1
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    previous = np.zeros(CONTEXT, dtype=np.float32)
    probabilities = []
    for first in range(0, n_windows, BLOCK_WINDOWS):
        last = min(first + BLOCK_WINDOWS, n_windows)
        windows = np.zeros((last - first) * WINDOW, dtype=np.float32)
        piece = to_float(samples[first * WINDOW : last * WINDOW])
        windows[: len(piece)] = piece
        block = np.empty((last - first, CONTEXT + WINDOW), dtype=np.float32)
        block[:, CONTEXT:] = windows.reshape(-1, WINDOW)
        if last == n_windows:
            block[-1, -CONTEXT:] = 0  # faster-whisper silences the end of the last window
        block[0, :CONTEXT] = previous
        block[1:, :CONTEXT] = block[:-1, -CONTEXT:]
        previous = block[-1, -CONTEXT:].copy()
        output, h, c = session.run(None, {"input": block, "h": h, "c": c})
        probabilities.append(output.reshape(-1))
    return np.concatenate(probabilities)


def speech_samples(samples: np.ndarray, min_silence_ms: int = 100, pad_ms: int = 30,
                   threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """Speech as (begin, end) sample ranges of 16 kHz mono audio. Pauses shorter than
    ``min_silence_ms`` do not split a region; each region is padded by ``pad_ms``."""
    return regions_of(speech_probabilities(samples), len(samples), min_silence_ms, pad_ms, threshold)


def speech_regions(samples: np.ndarray, min_silence_ms: int = 100, pad_ms: int = 30) -> list[tuple[int, int]]:
    """The same as (begin_ms, end_ms)."""
    return in_ms(speech_samples(samples, min_silence_ms, pad_ms))


def in_ms(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sample ranges at 16 kHz as (begin_ms, end_ms)."""
    return [(a * 1000 // SAMPLE_RATE, b * 1000 // SAMPLE_RATE) for a, b in ranges]


def regions_of(probabilities: np.ndarray, length: int, min_silence_ms: int = 100, pad_ms: int = 30,
               threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """Speech as (begin, end) sample ranges of a channel of ``length`` samples, from its
    ``speech_probabilities``: one model pass can give regions by several rules.

    silero's rules, as faster-whisper's ``get_speech_timestamps`` applies them (no shortest or
    longest region): speech starts at a window at or above ``threshold`` and ends where the
    probability fell below it by NEG_MARGIN, once it has stayed under ``threshold`` for
    ``min_silence_ms``. Regions are then padded by ``pad_ms``, or meet halfway when closer than that."""
    min_silence = SAMPLE_RATE * min_silence_ms / 1000
    pad = SAMPLE_RATE * pad_ms / 1000
    regions: list[list[int]] = []
    start = None  # of the region under way
    quiet_from = 0  # where the probability last fell below threshold - NEG_MARGIN inside it (0: it has not)
    # compared in float32, as faster-whisper compares the model's float32 output
    speech = (probabilities >= np.float32(threshold)).tolist()
    quiet = (probabilities < np.float32(threshold - NEG_MARGIN)).tolist()
    for i, (is_speech, is_quiet) in enumerate(zip(speech, quiet)):
        at = WINDOW * i
        if is_speech:
            quiet_from = 0
            if start is None:
                start = at
            continue
        if is_quiet and start is not None:
            quiet_from = quiet_from or at
            if at - quiet_from >= min_silence:
                regions.append([start, quiet_from])
                start, quiet_from = None, 0
    if start is not None and length > start:
        regions.append([start, length])

    for i, region in enumerate(regions):
        if i == 0:
            region[0] = int(max(0, region[0] - pad))
        if i < len(regions) - 1:
            after = regions[i + 1]
            gap = after[0] - region[1]
            if gap < 2 * pad:
                region[1] += int(gap // 2)
                after[0] = int(max(0, after[0] - gap // 2))
            else:
                region[1] = int(min(length, region[1] + pad))
                after[0] = int(max(0, after[0] - pad))
        else:
            region[1] = int(min(length, region[1] + pad))
    return [(a, b) for a, b in regions]


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
        chunk = to_float(samples[start : start + step])
        if np.abs(chunk).max() > INAUDIBLE_PEAK:
            found += sum(b - a for a, b in speech_samples(chunk))
            if found >= needed:
                return True
    return False
