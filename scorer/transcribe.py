"""Speech to words with timestamps, by faster-whisper (CTranslate2) or openai-whisper (PyTorch).

Both engines run the same bundled weights (see whisper_models) with the same settings, and both
transcribe only what silero-vad calls speech (``vad``): Whisper invents text for silence and hold
music, and a call has plenty of both.
"""
from __future__ import annotations

import bisect
import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from .audio import SAMPLE_RATE, to_float
from .conversation import Word
from .vad import in_ms, regions_of, speech_probabilities
from .whisper_models import ct2_model_dir, load_openai_model

ENGINES = ("faster-whisper", "openai-whisper")
DEVICES = ("auto", "cpu", "cuda")
# Greedy decoding: on a 2-core CPU beam 5 is about twice as slow for little gain on clear call
# audio; Whisper still falls back to sampling at higher temperatures when greedy output looks bad.
BEAM_SIZE = 1
# One sample per fallback temperature, as openai-whisper's transcribe() does by default; faster-whisper's
# default of 5 made each fallback window cost about 2 s more on this CPU.
BEST_OF = 1
SEED = 0
# Whisper gets speech in long stretches: pauses under 2 s stay in, with 1.5 s of context each side.
# Silero is slow to rise at the start of band-limited telephone speech after a long silence (the
# other party's turn on a stereo channel): at the diarization threshold it found a reply up to 1.3 s
# late and Whisper lost its first words ("Sure.", "No problem", "Right."). A lower onset threshold and
# a pad wider than that lag keep them (word error on 8 kHz synthesised calls: agent 0.18 -> 0.09,
# customer 0.16 -> 0.12); Whisper's own no-speech rating still drops hold music and line noise, and
# the words at the edges of a pause are fitted to their sound (_fit_to_sound).
VAD_THRESHOLD, VAD_MIN_SILENCE_MS, VAD_PAD_MS = 0.25, 2000, 1500
# Next to a pause of 0.3 s or more, a word's sound is its 10 ms frames within 30 dB of the loudest
# speech within a second of it.
SOUND_FRAME_MS = 10
SOUND_BELOW_PEAK = 10 ** (-30 / 10)  # in power
SOUND_CONTEXT_MS = 1000
EDGE_PAUSE_MS = 300
# Whisper starts a segment's first word where the previous segment ended. When that segment runs on
# across the join of two stretches of speech, its first word or two are left at the end of the
# earlier stretch, seconds before the rest of their sentence: on a synthesised 8 kHz stereo call the
# customer's "I" of "I can't thank you enough" sat 9.2 s early, inside the agent's turn, and split the
# customer's turn in two. Such words, touching the previous segment's last word and followed by a
# join-length pause inside their own segment, are moved to just before the rest of it, unless voice
# activity hears more of them where they are (a segment can also run on across a real pause).
STRANDED_MAX_WORDS = 2
STRANDED_TOUCH_MS = 20
# Whisper can also give the pause before a short reply to the reply itself, or start a reply's first word
# late: a customer's closing "No." of 190 ms, 2 s after the agent's "Is there anything else?", was timed
# from the end of "else?" to the start of its own sound, and on a mono call went to the agent's turn; an
# agent's "PT-009182." was given its last 0.6 s of 2.3, and the 0.8 s the agent took to answer read as 2.5 s.
# Speech no word was placed on goes to the word beside it (_onto_wordless_speech).
STRETCHED_TOUCH_MS = 60
# A segment Whisper itself rates as probably not speech is dropped, whatever text it produced.
NO_SPEECH_PROB = 0.9
# Whisper makes up a word or two where speech ends: "Thank you." and "Bye bye." that nobody said, after
# a customer's "Hello? Hello?" or an agent's last line on synthesised 8 kHz calls. It marks them itself,
# as openai-whisper's word anomaly score counts: a word it doubts (probability under 0.15) scores 1, a
# word squeezed into under 133 ms 15 times the seconds it falls short (its third mark, a word over 2 s,
# is not used: Whisper stretches real words over pauses, c-065's "No." to 2.06 s). A segment scoring 1
# a word or more, with a doubted word among them, is dropped and counted. A squeezed word alone is not
# enough (a reply's real closing "Okay." is often timed at 0 ms), and Whisper's other test, 3 in all in
# a longer segment, needs the silence around it that Whisper sees: on call 40 real sentences reach 3.
DOUBTED_PROBABILITY = 0.15
SQUEEZED_S = 0.133
MADE_UP_SCORED_WORDS = 8  # Whisper scores a segment's first 8 words, punctuation aside
PUNCTUATION = "\"'“¿([{-.。,，!！?？:：”)]}、"
NOT_SPEECH, MADE_UP = "not speech", "made up"
# openai-whisper gets speech in pieces of about one 30 s window, so progress can be reported.
CHUNK_S = 30.0
# Whisper can skip part of a window: its first timestamp lands seconds into the window, and what came
# before is never decoded (tiny.en went from 30.0 s to 53.1 s of a synthesised 8 kHz mono call: 23 s of
# both parties' words lost, without a trace). Speech that voice activity hears for this long with no
# word and no no-speech segment on it is decoded again on its own, with this much sound either side.
# Not 2 s: on an AMD EPYC tiny.en skipped the agent's "I will correct the bill while we are on the call"
# on the 8 kHz stereo resolved call, of which voice activity hears only 1.7 s in band-limited speech
# (word error 0.21 -> 0.16 once decoded again).
MIN_UNHEARD_MS = 1000
UNHEARD_CONTEXT_MS = 200

NO_GPU = "--device cuda: {engine} sees no CUDA GPU on this machine; use --device auto (the default) or cpu"

Progress = Callable[[float], None]  # called with seconds of audio processed
Decode = Callable[[np.ndarray, list[tuple[int, int]], Progress | None], tuple[list["Segment"], str]]


@dataclass
class Segment:
    text: str
    begin_ms: int
    end_ms: int
    words: list[Word]
    dropped: str | None = None  # NOT_SPEECH or MADE_UP: not kept, and it has no words

    @property
    def speech(self) -> bool:
        return self.dropped is None


@dataclass
class Transcript:
    segments: list[Segment]
    language: str | None  # None: not fixed by the caller and nothing was said to detect it from
    engine: str
    model: str
    device: str
    compute_type: str
    non_speech: list[Segment] = field(default_factory=list)  # dropped: probably not speech, or made up
    # voice activity by vad's own rules, (begin_ms, end_ms): what diarization windows, found once
    speech_regions: list[tuple[int, int]] = field(default_factory=list)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


@dataclass
class Transcriber:
    engine: str
    model: str
    device: str
    compute_type: str
    language: str | None  # None: detected per call
    # opens a decoding session for one channel: a function that decodes the given (begin, end) sample
    # ranges of the samples, the speech joined up; the same channel gives the same words in every session
    _session: Callable[[], Decode] = field(repr=False)

    def transcribe(self, samples: np.ndarray, progress: Progress | None = None) -> Transcript:
        """Transcribe one channel: mono samples at 16 kHz, int16 or float."""
        samples = np.asarray(samples)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples, got shape {samples.shape}")
        # one voice-activity pass: Whisper's long stretches and the plain regions both come from it
        probabilities = speech_probabilities(samples)
        whisper_speech = regions_of(probabilities, len(samples), VAD_MIN_SILENCE_MS, VAD_PAD_MS, VAD_THRESHOLD)
        regions = in_ms(regions_of(probabilities, len(samples)))
        run = self._session()
        segments, language = run(samples, whisper_speech, progress)
        segments = sorted(segments + _decode_unheard(run, samples, regions, segments), key=lambda s: s.begin_ms)
        speech = [s for s in segments if s.speech]
        _onto_wordless_speech([w for s in speech for w in s.words], regions)
        _fit_to_sound([w for s in speech for w in s.words], samples)
        _rejoin_stranded_words(speech, regions)  # after the fit: the rest of the segment starts at its sound
        if not speech:
            language = self.language  # faster-whisper "detects" a language in silence too
        if progress:
            progress(len(samples) / SAMPLE_RATE)
        return Transcript(speech, language, self.engine, self.model, self.device, self.compute_type,
                          [s for s in segments if not s.speech], regions)


def _decode_unheard(run: Decode, samples: np.ndarray, regions: list[tuple[int, int]],
                    segments: list[Segment]) -> list[Segment]:
    """Segments for the stretches of speech (of ``regions``, in ms) Whisper skipped, each decoded
    alone by ``run``; a segment is kept only when none of its words lands on a word already heard."""
    heard = _merged([(w.begin_ms, w.end_ms) for s in segments for w in s.words]
                    + [(s.begin_ms, s.end_ms) for s in segments if not s.speech])
    ends = [e for _, e in heard]
    found = []
    for begin, end in unheard(regions, heard, MIN_UNHEARD_MS):
        begin, end = max(0, begin - UNHEARD_CONTEXT_MS), end + UNHEARD_CONTEXT_MS
        stretch = samples[begin * SAMPLE_RATE // 1000 : end * SAMPLE_RATE // 1000]
        pieces, _ = run(stretch, [(0, len(stretch))], None)
        for piece in pieces:
            piece = _shifted(piece, begin)
            if not any(_within(heard, ends, (w.begin_ms + w.end_ms) / 2) for w in piece.words):
                found.append(piece)
    return found


def unheard(regions: list[tuple[int, int]], heard: list[tuple[int, int]], min_ms: int) -> list[tuple[int, int]]:
    """The stretches between ``heard`` spans that hold at least ``min_ms`` of speech ``regions`` (both
    (begin_ms, end_ms); regions in order), from the first speech in each to the last."""
    union = _merged(heard)
    ends = [e for _, e in union]
    gaps: dict[int, list[int]] = {}  # index of the heard span after the gap -> [first, last, speech ms]
    for begin, end in regions:
        k = bisect.bisect_right(ends, begin)  # the first heard span ending after the region begins
        while begin < end:
            stop = min(end, union[k][0]) if k < len(union) else end
            if stop > begin:
                gap = gaps.setdefault(k, [begin, stop, 0])
                gap[1], gap[2] = stop, gap[2] + stop - begin
            if k == len(union):
                break
            begin, k = max(begin, union[k][1]), k + 1
    return [(first, last) for first, last, speech in gaps.values() if speech >= min_ms]


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans in order, overlapping ones joined."""
    union: list[tuple[int, int]] = []
    for b, e in sorted(spans):
        if union and b <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], e))
        else:
            union.append((b, e))
    return union


def _within(union: list[tuple[int, int]], ends: list[int], ms: float) -> bool:
    k = bisect.bisect_left(ends, ms)  # the first span ending at or after ms
    return k < len(union) and union[k][0] <= ms


def _shifted(segment: Segment, ms: int) -> Segment:
    return replace(segment, begin_ms=segment.begin_ms + ms, end_ms=segment.end_ms + ms,
                   words=[Word(w.text, w.begin_ms + ms, w.end_ms + ms, w.probability) for w in segment.words])


def load_transcriber(engine: str = "faster-whisper", model: str = "tiny.en", device: str = "auto",
                     compute_type: str | None = None, language: str | None = None) -> Transcriber:
    """Load a model once to transcribe many channels.

    ``device="auto"`` picks CUDA with float16 when a GPU is visible to the engine, else the CPU
    with int8 (faster-whisper) or float32 (openai-whisper). English-only models (".en") are always
    run with language "en"; others detect the language unless ``language`` is given.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    if str(model).endswith(".en"):
        language = "en"
    load = _load_faster_whisper if engine == "faster-whisper" else _load_openai_whisper
    device, compute_type, session = load(str(model), device, compute_type, language)
    return Transcriber(engine, str(model), device, compute_type, language, session)


def _load_faster_whisper(model, device, compute_type, language):
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import restore_speech_timestamps

    from .whisper_features import BlockFeatureExtractor

    gpus = ctranslate2.get_cuda_device_count()
    if device == "auto":
        device = "cuda" if gpus > 0 else "cpu"
    elif device == "cuda" and gpus == 0:
        raise ValueError(NO_GPU.format(engine="faster-whisper (CTranslate2)"))
    compute_type = compute_type or ("float16" if device == "cuda" else "int8")
    path = ct2_model_dir(model)
    try:
        whisper = WhisperModel(str(path), device=device, compute_type=compute_type, cpu_threads=os.cpu_count() or 0)
    except (RuntimeError, ValueError, OSError) as e:
        reason = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise ValueError(f"{path}: faster-whisper could not load this Whisper model on {device} {compute_type} ({reason})") from None
    whisper.feature_extractor = BlockFeatureExtractor.like(whisper.feature_extractor)
    # Loaded to check the model works here; each session decodes on a model of its own (below), so this
    # one's weights would only hold memory (on a GPU, for the life of the process).
    whisper.model.unload_model()

    def session():
        # Whisper's temperature fallback samples, from a generator CTranslate2 seeds once per thread, when
        # the thread first samples; set_random_seed does not reseed it. Decoding on the loaded model, a
        # call's words depended on every call decoded before it (one recording transcribed three times
        # in a process: three transcripts). A fresh model has fresh threads seeded with SEED, so the same
        # channel gives the same words every time; it reads the model's files from the page cache (0.2 s
        # for base on this CPU, against 15-20 s to transcribe a 4-minute channel), and frees it after.
        ctranslate2.set_random_seed(SEED)
        decoder = copy.copy(whisper)
        decoder.model = ctranslate2.models.Whisper(str(path), device=device, compute_type=compute_type,
                                                   intra_threads=os.cpu_count() or 0)
        return partial(run, decoder)

    def run(decoder, samples, speech, progress):
        # What faster-whisper's vad_filter does, with the voice activity of vad, which holds no
        # copies of the channel: the speech joined up is decoded, and times mapped back to the call.
        # It stays int16 if the channel is: faster-whisper reads it only through its feature
        # extractor, which makes it float a block at a time.
        joined = np.concatenate([samples[a:b] for a, b in speech]) if speech else samples[:0]
        pieces, info = decoder.transcribe(
            joined, language=language, beam_size=BEAM_SIZE, best_of=BEST_OF, word_timestamps=True,
            condition_on_previous_text=False, vad_filter=False,
        )
        del joined  # Whisper keeps only its features of it
        if speech:
            pieces = restore_speech_timestamps(pieces, [{"start": a, "end": b} for a, b in speech], SAMPLE_RATE)
        segments = []
        for s in pieces:  # a generator: decoding happens as we iterate
            words = [(w.word, w.start, w.end, w.probability) for w in s.words or []]
            segments.append(_segment(s.text, s.start, s.end, words, s.no_speech_prob))
            if progress:
                progress(s.end)
        return [s for s in segments if s], info.language

    return device, compute_type, session


def _load_openai_whisper(model, device, compute_type, language):
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ValueError(NO_GPU.format(engine="openai-whisper (PyTorch)"))
    compute_type = compute_type or ("float16" if device == "cuda" else "float32")
    if compute_type not in ("float16", "float32"):
        raise ValueError(f"openai-whisper runs float16 or float32, not {compute_type!r}")
    if device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    whisper = load_openai_model(model, device)

    def run(samples, speech, progress):
        torch.manual_seed(SEED)  # the temperature fallback samples; same call, same words
        segments, detected = [], language
        for chunk in _chunks(speech):
            # Only speech is decoded, joined up; times are mapped back to the call's timeline.
            result = whisper.transcribe(
                to_float(np.concatenate([samples[a:b] for a, b in chunk])), language=detected, beam_size=None,
                word_timestamps=True, condition_on_previous_text=False, fp16=compute_type == "float16",
                verbose=None,
            )
            detected = detected or result["language"]  # detect once, then hold it for the call
            at = _timeline(chunk)
            for s in result["segments"]:
                words = [(w["word"], at(w["start"]), at(w["end"]), w["probability"]) for w in s.get("words", [])]
                segments.append(_segment(s["text"], at(s["start"]), at(s["end"]), words, s["no_speech_prob"]))
            if progress:
                progress(chunk[-1][1] / SAMPLE_RATE)
        return [s for s in segments if s], detected

    return device, compute_type, lambda: run  # torch's generator is seeded at each run


def _segment(text, start, end, words, no_speech_prob) -> Segment | None:
    """A Segment in integer milliseconds (without words when Whisper rates it as not speech or its
    words as made up), or None when it has no words."""
    if no_speech_prob > NO_SPEECH_PROB:
        return Segment(text.strip(), _ms(start), _ms(end), [], dropped=NOT_SPEECH)
    if _made_up(words):
        return Segment(text.strip(), _ms(start), _ms(end), [], dropped=MADE_UP)
    kept = []
    for word, w_start, w_end, probability in words:
        if word.strip():
            begin_ms = _ms(w_start)
            kept.append(Word(word, begin_ms, max(begin_ms, _ms(w_end)), float(probability)))
    if not kept:
        return None
    return Segment(text.strip(), _ms(start), max(_ms(end), kept[-1].end_ms), kept)


def _made_up(words: list[tuple[str, float, float, float]]) -> bool:
    """Whisper's own marks of made-up words (``(word, start s, end s, probability)``): see MADE_UP."""
    scored = [w for w in words if w[0].strip() and w[0].strip() not in PUNCTUATION][:MADE_UP_SCORED_WORDS]
    doubted = [probability < DOUBTED_PROBABILITY for _, _, _, probability in scored]
    squeezed = sum(max(0.0, SQUEEZED_S - (end - start)) * 15 for _, start, end, _ in scored)
    return any(doubted) and sum(doubted) + squeezed + 0.01 >= len(scored)


def _rejoin_stranded_words(segments: list[Segment], regions: list[tuple[int, int]]) -> None:
    """Move a segment's first words that Whisper left at the previous segment's end, a pause of
    VAD_MIN_SILENCE_MS or more before the rest of their own segment, to just before that rest, unless
    the channel's voice activity (``regions``, in ms) hears more of them where they are than there:
    a segment that runs on across a pause also starts with words said where Whisper put them (the
    agent's "extraordinary circumstances" 5 s before their "operational reasons", with the customer
    speaking between), and moving those would have them talk over the customer."""
    for previous, segment in zip(segments, segments[1:]):
        words = segment.words
        if words[0].begin_ms - previous.words[-1].end_ms > STRANDED_TOUCH_MS:
            continue
        for k in range(min(STRANDED_MAX_WORDS, len(words) - 1)):
            shift = words[k + 1].begin_ms - words[k].end_ms
            begin, end = words[0].begin_ms, words[k].end_ms
            if shift >= VAD_MIN_SILENCE_MS and _speech_share(regions, begin + shift, end + shift) >= _speech_share(regions, begin, end):
                for word in words[: k + 1]:
                    word.begin_ms += shift
                    word.end_ms += shift
                segment.begin_ms = words[0].begin_ms
                break


def _onto_wordless_speech(words: list[Word], regions: list[tuple[int, int]]) -> None:
    """Give speech Whisper placed no word on to the word beside it that voice activity says it belongs to.
    A word stretched across a pause (EDGE_PAUSE_MS or more without voice activity inside it) whose end
    touches (STRETCHED_TOUCH_MS) such speech is moved onto it, when the word opens a sentence: that speech
    is the word's sound, and the pause before it is not the word ("let me check" and a pause: inside a
    sentence, the word was said before the pause). A word that starts inside a stretch of speech which
    began, with no word in it, EDGE_PAUSE_MS or more before it, starts where that speech starts (less is
    Whisper's usual give and take of a few frames)."""
    starts = [a for a, _ in regions]  # regions are in order and apart

    def containing(ms: int) -> int | None:
        i = bisect.bisect_left(starts, ms) - 1  # the last region starting before ms
        return i if i >= 0 and ms < regions[i][1] else None

    for k, word in enumerate(words):
        previous_end = words[k - 1].end_ms if k else 0
        i = containing(word.begin_ms)
        if i is not None and starts[i] >= previous_end and word.begin_ms - starts[i] >= EDGE_PAUSE_MS:
            word.begin_ms = starts[i]
            continue
        if k and not words[k - 1].text.rstrip().endswith((".", "?", "!")):
            continue
        # the first region that starts within STRETCHED_TOUCH_MS of the word's end or holds it
        touching = [j for j in (containing(word.end_ms), bisect.bisect_left(starts, word.end_ms - STRETCHED_TOUCH_MS))
                    if j is not None and j < len(starts) and starts[j] <= word.end_ms + STRETCHED_TOUCH_MS]
        if not touching or starts[min(touching)] <= word.begin_ms:
            continue
        region = regions[min(touching)]
        silent_ms = (region[0] - word.begin_ms) * (1 - _speech_share(regions, word.begin_ms, region[0]))
        # words are in time order: only those beside this one can lie on the region
        claimed = any(min(other.end_ms, region[1]) - max(other.begin_ms, region[0]) > STRETCHED_TOUCH_MS
                      for other in words[max(0, k - 2):k] + words[k + 1:k + 3])
        if silent_ms >= EDGE_PAUSE_MS and not claimed:
            following = words[k + 1].begin_ms if k + 1 < len(words) else region[1]
            word.begin_ms, word.end_ms = region[0], max(region[0], min(region[1], following))


def _speech_share(regions: list[tuple[int, int]], begin: int, end: int) -> float:
    """The share of begin..end (ms) inside the sorted, disjoint ``regions``; a point's own share (0 or 1)."""
    if end <= begin:
        return float(any(a <= begin < b for a, b in regions))
    return sum(max(0, min(b, end) - max(a, begin)) for a, b in regions) / (end - begin)


def _fit_to_sound(words: list[Word], samples: np.ndarray) -> None:
    """Fit the words at the edges of a pause to their sound. Whisper stretches the first word after a
    pause back to the start of the padded region it was given, and the last word before one on to its
    end, up to the pad early or late: on a stereo channel that is inside the other party's turn, which
    would read as talking over them, or as their speech on this channel."""
    frame = SAMPLE_RATE * SOUND_FRAME_MS // 1000
    begins, ends = [w.begin_ms for w in words], [w.end_ms for w in words]
    # Whisper gives a word it cannot place no length at all, at the edge of the word before or after
    # it ("hasn't" stretched 1.5 s, then "called?" in no time): such a word sits between its
    # neighbour and the pause, so the neighbour's outer edge is the one to fit
    point = [e - b < SOUND_FRAME_MS for b, e in zip(begins, ends)]
    for k, word in enumerate(words):
        if point[k]:
            continue
        before, after = k - 1, k + 1
        while before >= 0 and point[before] and begins[before + 1] - ends[before] < EDGE_PAUSE_MS:
            before -= 1
        while after < len(words) and point[after] and begins[after] - ends[after - 1] < EDGE_PAUSE_MS:
            after += 1
        after_pause = before < 0 or begins[before + 1] - ends[before] >= EDGE_PAUSE_MS
        before_pause = after == len(words) or begins[after] - ends[after - 1] >= EDGE_PAUSE_MS
        if not (after_pause or before_pause):
            continue
        # frames from a second before the word to a second after: the speech around it sets the level
        first = max(0, begins[k] - SOUND_CONTEXT_MS) // SOUND_FRAME_MS
        n = min(len(samples) // frame, (ends[k] + SOUND_CONTEXT_MS) // SOUND_FRAME_MS) - first
        power = np.square(to_float(samples[first * frame : (first + n) * frame]), dtype=np.float64).reshape(n, frame).mean(axis=1)
        inside = np.arange(begins[k] // SOUND_FRAME_MS, ends[k] // SOUND_FRAME_MS) - first
        sound = inside[power[inside] >= power.max() * SOUND_BELOW_PEAK]
        if after_pause:
            word.begin_ms = int(first + sound[0]) * SOUND_FRAME_MS if len(sound) else ends[k]
        if before_pause:
            word.end_ms = int(first + sound[-1] + 1) * SOUND_FRAME_MS if len(sound) else begins[k]
        # a word Whisper placed wholly in silence keeps a point where it was placed, never inverted
        word.begin_ms = max(begins[k], min(word.begin_ms, ends[k]))
        word.end_ms = min(ends[k], max(word.end_ms, word.begin_ms))
        # the point words between the pause and this word go with its fitted edge
        if after_pause:
            for j in range(before + 1, k):
                words[j].begin_ms = words[j].end_ms = word.begin_ms
        if before_pause:
            for j in range(k + 1, after):
                words[j].begin_ms = words[j].end_ms = word.end_ms


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _chunks(regions: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Group speech regions (sample ranges) into runs of at most CHUNK_S of speech; a longer region
    is a chunk of its own, which Whisper windows itself."""
    chunks, length = [], 0
    for a, b in regions:
        if chunks and length + (b - a) <= CHUNK_S * SAMPLE_RATE:
            chunks[-1].append((a, b))
            length += b - a
        else:
            chunks.append([(a, b)])
            length = b - a
    return chunks


def _timeline(chunk: list[tuple[int, int]]) -> Callable[[float], float]:
    """Map seconds in the joined-up chunk to seconds in the original audio."""
    starts = np.cumsum([0] + [b - a for a, b in chunk[:-1]]) / SAMPLE_RATE  # where each region begins when joined

    def at(t: float) -> float:
        i = max(0, int(np.searchsorted(starts, t, side="right")) - 1)
        a, b = chunk[i]
        return min(a / SAMPLE_RATE + (t - starts[i]), b / SAMPLE_RATE)

    return at
