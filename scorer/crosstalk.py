"""Crosstalk and echo on stereo calls: a word heard faintly on one channel while the other
party says it on theirs is not speech of the first party.

A leak (line echo, a headset picking up the earpiece, a recorder that mixes a little of each side
into the other) is a quieter, possibly delayed copy of the other channel. Whisper hears it as words,
since silero-vad and Whisper are nearly blind to level. A word is echo when, over the word, the
other channel is much louder and either the word's signal is a copy of the other channel's, or the
other channel has the same word at that moment and the word is faint for its own channel. Two people
genuinely talking at once pass: each is loud on their own channel, and the signals are unrelated.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.signal import correlate

from .audio import SAMPLE_RATE, to_float
from .conversation import Word

# Echo return loss is rarely under 10 dB; two parties talking at once are within that of each other
# once the channels' own levels are allowed for.
ECHO_MARGIN_DB = 10.0
# Normalised cross-correlation of the word with the other channel: a digital leak gives ~1.0;
# unrelated speech stays under 0.1 (measured on the two separate tracks of the real call 40).
ECHO_COHERENCE = 0.5
# How late an echo may arrive, and how much word-timestamp slack either way.
MAX_ECHO_DELAY_MS = 250
PAD_MS = 100
# Shorter words are compared over this much signal around their middle: a correlation over a few
# periods of voice means little.
MIN_TEMPLATE_MS = 200
# For the same-word test: the word is this much below the channel's loud speech (its 90th percentile
# word level), so a party repeating the other's words aloud ("A 2019") is not taken as echo.
FAINT_DB = 15.0


def remove_echo(words: list[list[Word]], channels: list[np.ndarray]) -> tuple[list[list[Word]], list[list[Word]]]:
    """Split each channel's words into (kept, echo). ``words[i]`` are the words transcribed from
    ``channels[i]`` (mono at SAMPLE_RATE, int16 or float), for the two channels of a stereo call."""
    kept: list[list[Word]] = [[], []]
    echo: list[list[Word]] = [[], []]
    for me, other in ((0, 1), (1, 0)):
        levels = [_dbfs(_window(channels[me], w)) for w in words[me]]
        loud = float(np.percentile(levels, 90)) if levels else 0.0
        for w in words[me]:
            is_echo = _is_echo(w, channels[me], channels[other], words[other], loud)
            (echo if is_echo else kept)[me].append(w)
    return kept, echo


def _is_echo(word: Word, own: np.ndarray, other: np.ndarray, other_words: list[Word], loud_dbfs: float) -> bool:
    louder, coherent = _compare(own, other, word)
    if (louder & (coherent >= ECHO_COHERENCE)).any():
        return True
    own_db = _dbfs(_window(own, word))
    if own_db > loud_dbfs - FAINT_DB:
        return False
    text = _normalise(word.text)
    return any(
        _normalise(w.text) == text and w.begin_ms <= word.end_ms + PAD_MS and w.end_ms >= word.begin_ms - MAX_ECHO_DELAY_MS
        and _dbfs(_window(other, w)) - own_db >= ECHO_MARGIN_DB
        for w in other_words
    )


def _compare(own: np.ndarray, other: np.ndarray, word: Word) -> tuple[np.ndarray, np.ndarray]:
    """The word's signal against the other channel at each delay from -PAD_MS (timestamp slack) to
    MAX_ECHO_DELAY_MS + PAD_MS (an echo arrives later): whether the other channel is ECHO_MARGIN_DB
    louder there, and the normalised cross-correlation (1: the word is a scaled copy)."""
    middle, half = (word.begin_ms + word.end_ms) // 2, max(word.end_ms - word.begin_ms, MIN_TEMPLATE_MS) // 2
    begin, end = _samples(middle - half), _samples(middle + half)
    template = to_float(own[begin:end]).astype(np.float64)
    search = to_float(other[_samples(middle - half - MAX_ECHO_DELAY_MS - PAD_MS) : end + _samples(PAD_MS)]).astype(np.float64)
    if template.size == 0 or search.size < template.size:
        return np.zeros(1, bool), np.zeros(1)
    own_energy = max(float(np.sum(template * template)), 1e-12)
    cumulative = np.concatenate([[0.0], np.cumsum(search * search)])
    other_energy = np.maximum(cumulative[template.size :] - cumulative[: -template.size], 0.0)
    louder = other_energy >= own_energy * 10 ** (ECHO_MARGIN_DB / 10)
    if not louder.any():  # most words: the other side is quiet, no need to correlate
        return louder, np.zeros(louder.shape)
    products = correlate(search, template, mode="valid", method="fft")
    coherent = np.abs(products) / np.sqrt(np.maximum(other_energy * own_energy, 1e-24))
    return louder, coherent


def _window(signal: np.ndarray, word: Word) -> np.ndarray:
    return to_float(signal[_samples(word.begin_ms) : _samples(word.end_ms)])


def _samples(ms: int) -> int:
    return max(0, ms * SAMPLE_RATE // 1000)


def _dbfs(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20 * np.log10(max(rms, 1e-10))


def _normalise(text: str) -> str:
    return re.sub(r"[^\w']", "", text.lower())
