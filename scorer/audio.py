"""Audio loading. (Skeleton: being written.)"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000  # what Whisper, silero-vad and resemblyzer expect


class AudioError(ValueError):
    """A file that cannot be scored, with the file and the problem in the message."""


@dataclass
class Audio:
    samples: np.ndarray  # float32, shape (channels, n), in [-1, 1], at SAMPLE_RATE
    source: str  # path or name
    source_sample_rate: int
    source_channels: int
    source_format: str  # e.g. "WAV PCM_16", "MP3"

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def duration_ms(self) -> int:
        return int(round(1000 * self.samples.shape[1] / SAMPLE_RATE))

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0) if self.channels > 1 else self.samples[0]
