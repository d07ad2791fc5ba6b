"""Whisper's log-mel features for faster-whisper, computed a block of frames at a time.

faster-whisper's ``FeatureExtractor`` takes the spectrum of the whole speech of a channel at once:
the windowed frames, two complex copies of the spectrum and its magnitudes, about 50 bytes per
sample (2.9 GB for a 58-minute call). Each frame only depends on its own 400 samples, so this
computes the same frames a block at a time into one 80-band array; only the final clamp to 80 dB
below the loudest frame needs them all, and it comes last, as in faster-whisper. The waveform may
be int16, made float a block at a time, so a long call's speech is never held whole as float.
"""
from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

from .audio import to_float

BLOCK_FRAMES = 6000  # 60 s of 10 ms frames: a few MB of spectrum at a time


class BlockFeatureExtractor(FeatureExtractor):
    @classmethod
    def like(cls, extractor: FeatureExtractor) -> BlockFeatureExtractor:
        """One with the same settings as ``extractor`` (the model's own, from its preprocessor config)."""
        return cls(feature_size=extractor.mel_filters.shape[0], sampling_rate=extractor.sampling_rate,
                   hop_length=extractor.hop_length, chunk_length=extractor.chunk_length, n_fft=extractor.n_fft)

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        """The log-mel spectrogram (bands, frames) that ``FeatureExtractor.__call__`` gives for the
        float waveform (``to_float`` of an int16 one)."""
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        waveform = np.asarray(waveform)
        if len(waveform) + padding <= self.n_fft:  # too short to matter, and reflected more than once
            return super().__call__(to_float(waveform), padding)
        # faster-whisper appends ``padding`` zeros, centres frames by reflecting n_fft // 2 samples at
        # each end, and drops the last frame
        length = len(waveform) + padding
        half = self.n_fft // 2
        n_frames = length // self.hop_length
        window = np.hanning(self.n_fft + 1)[:-1].astype(np.float32)
        mel = np.empty((self.mel_filters.shape[0], n_frames), dtype=np.float32)
        for first in range(0, n_frames, BLOCK_FRAMES):
            last = min(first + BLOCK_FRAMES, n_frames)
            at = np.arange(first * self.hop_length - half, (last - 1) * self.hop_length + half)
            at = np.abs(at)  # reflected at the start ...
            at = np.where(at >= length, 2 * (length - 1) - at, at)  # ... and at the end
            block = np.where(at < len(waveform), to_float(waveform[np.minimum(at, len(waveform) - 1)]), np.float32(0))
            spectrum = self.stft(block, self.n_fft, self.hop_length, window=window, center=False, return_complex=True)
            mel[:, first:last] = self.mel_filters @ (np.abs(spectrum.astype(np.complex64, copy=False)) ** 2)
        log_spec = np.log10(np.clip(mel, 1e-10, None, out=mel), out=mel)
        np.maximum(log_spec, log_spec.max() - 8.0, out=log_spec)
        log_spec += 4.0
        log_spec /= 4.0
        return log_spec
