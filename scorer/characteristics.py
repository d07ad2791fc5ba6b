"""Call characteristics: the per-call measures contact-centre analytics report (Contact Lens style).

Talk time, non-talk time, interruptions, talk speed, response latency and handle time come from
word (else turn) times, and are skipped (null, with a reason) for text given without times;
loudness, vocal effort and pitch also need each party's signal and are skipped for text. Times are
integer milliseconds, percentages are 0-100.

Talk time and talk speed share one definition, per turn and per party, audio or text with times:
a party's utterances are its words joined across pauses shorter than PAUSE_MS; talk time is the
utterances' total length, and talk speed is words per minute of it (the speaking rate, pauses
included, that supervisors know; not the articulation rate of the words alone).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass
from typing import Optional

import librosa
import numpy as np

from .audio import SAMPLE_RATE, to_float
from .conversation import AGENT, CUSTOMER, PARTIES, Conversation, Turn

# Pauses shorter than this are part of speaking (breaths, phrasing, hesitation); longer ones are
# silence. About 1 s is the longest silence conversation tolerates before someone acts on it
# (Jefferson 1989, "standard maximum"); on the real calls in ../shared/data, half of a party's
# gaps between words are 340-700 ms and the rates barely move between 0.7 and 1.5 s.
PAUSE_MS = 1000
# A party is still speaking through gaps shorter than this (breaths between words), so the
# other party starting inside such a gap is talking over them.
SPURT_GAP_MS = 300
# Overlaps shorter than this are ordinary turn-taking jitter and word-timestamp error.
MIN_OVERLAP_MS = 200
# A takeover: the overlapped party stops within this long of the overlap's start. Overlap is
# usually resolved within a few syllables (Schegloff 2000), but a speaker often finishes the phrase
# under way; one who talks on for a sentence more has held the floor, and the two were talking in
# parallel (or one channel hears the other's echo) ...
YIELD_MS = 3000
# ... and the party who came in goes on speaking at least this long after the other stopped.
KEEP_FLOOR_MS = 500
# An overlapping utterance of at most three of these words is listening, not taking the floor.
BACKCHANNEL_WORDS = {
    "okay", "ok", "yeah", "yes", "yep", "yup", "right", "sure", "alright", "all", "uh-huh", "uh",
    "huh", "mm-hmm", "mhm", "mm", "hmm", "hm", "oh", "ah", "great", "perfect", "good", "cool",
    "exactly", "absolutely", "definitely", "correct", "gotcha", "got", "it", "i", "see", "thanks",
    "thank", "you",
}
MAX_BACKCHANNEL_WORDS = 3
# A short overlapping utterance whose words the other party has just said ("A 2019." over the
# customer's "a 2019") is a confirmation: active listening, not a takeover.
MAX_CONFIRMATION_WORDS = 4
CONFIRMATION_WINDOW_MS = 5000  # how far back the other party's words count as just said
FUNCTION_WORDS = {"a", "an", "the", "and", "so", "is", "was", "it's", "that", "that's", "of", "to", "in", "on", "at", "for"}

# Loudness score: RMS dBFS mapped linearly so near-silence (-60) is 0 and shouting (-10) is 100;
# conversational speech recorded at a sensible level lands around 50-80.
SCORE_FLOOR_DBFS = -60.0
SCORE_CEIL_DBFS = -10.0
MIN_DBFS = -100.0  # what digital silence reports instead of -inf
# A turn's loudness further than this many robust deviations from the party's median is clipped there
# before their loudness dynamics are measured.
ROBUST_CLIP = 3.0

# Pitch: yin on 40 ms frames every 20 ms (about 0.5 s for 4 minutes of speech on one core; pyin
# is ~50x slower). yin always returns an estimate, so frames are kept only when loud enough and
# actually periodic at the yin period.
FMIN_HZ = 65.0
FMAX_HZ = 400.0
PITCH_FRAME = 640
PITCH_HOP = 320
PITCH_HOP_MS = 1000 * PITCH_HOP // SAMPLE_RATE
MIN_FRAME_DBFS = -60.0
MIN_PERIODICITY = 0.8  # normalized autocorrelation at the yin period
MIN_VOICED_FRAMES = 5  # 100 ms of voicing before a pitch figure means anything
# A party's pitch variation (std and range) needs 3 s of voiced frames. Measured on the real calls
# in ../shared/data and a synthesised one, the spread of 1 s of a voice's frames ranged over 1-2.6
# semitones from one stretch to the next (10th-90th percentile), of 3 s over 0.5-1.7: a reading from
# a few short turns is noise (the same 20-turn call gave 2.56 and 3.42 in stereo and mono from 1 s).
MIN_SPREAD_FRAMES = 3000 // PITCH_HOP_MS
# yin's octave errors land ~12 semitones from the speaker's median, ordinary intonation within ~8.
MAX_DEVIATION_ST = 8.0

# Vocal effort: the alpha ratio, energy at 1-3.4 kHz over 0.3-1 kHz in the louder frames of the
# party's speech. A voice pushed harder closes the glottis faster and its spectrum falls off less
# steeply, so the ratio rises with effort (the alpha ratio of eGeMAPS, narrowed to the 300-3400 Hz
# telephone band); as a ratio it does not change with the recording's gain, unlike dBFS.
EFFORT_LOW_HZ = (300, 1000)
EFFORT_HIGH_HZ = (1000, 3400)
EFFORT_FRAME = 512
EFFORT_RANGE_DB = 25.0  # frames this far below the turn's loudest are pauses or line noise

Span = tuple[int, int]


@dataclass
class HandleTime:
    duration_ms: int  # whole call (conversation or audio, whichever is longer)
    first_speech_ms: Optional[int]
    last_speech_ms: Optional[int]
    speech_span_ms: int  # first to last speech


@dataclass
class PartyTalk:
    talk_ms: Optional[int]  # total length of the party's utterances (pauses under PAUSE_MS included)
    talk_pct: Optional[float]  # share of both parties' talk time
    turns: int
    words: int
    wpm: Optional[float]  # speaking rate: words per minute of talk time


@dataclass
class Silence:
    begin_ms: int
    end_ms: int
    duration_ms: int
    position: str  # "lead_in" (before first speech), "between", "trailing" or "whole" (no speech)


@dataclass
class NonTalk:
    total_ms: int  # nobody speaking, lead-in and trailing silence included
    pct: float  # of the call duration
    silences: list[Silence]  # those of at least the silence threshold


@dataclass
class Interruption:
    interrupter: str
    interrupted: str
    begin_ms: int  # from the interrupter's start ...
    end_ms: int  # ... until the interrupted party stopped
    duration_ms: int
    text: str  # the interrupter's words


@dataclass
class Interruptions:
    events: list[Interruption]  # takeovers: the other party stopped and the interrupter kept the floor
    counts: dict[str, int]  # takeovers by interrupter; the interrupted is the other party
    backchannels: dict[str, int]  # by party: "yeah", "uh-huh", "I see" over the other party
    confirmations: dict[str, int]  # by party: repeating the other party's words as they say them
    overlaps: dict[str, int]  # by party: other talk over the other (on its last word, or not taking the floor)


@dataclass
class Response:
    customer_end_ms: int
    agent_begin_ms: int
    gap_ms: int  # negative when the agent started before the customer finished


@dataclass
class Latency:
    responses: list[Response]
    mean_ms: Optional[float]
    median_ms: Optional[float]
    max_ms: Optional[int]


@dataclass
class TurnMeasure:
    index: int  # into conversation.turns
    speaker: str
    begin_ms: Optional[int]  # None for text without times
    end_ms: Optional[int]
    words: int
    talk_ms: Optional[int]  # the turn's utterance time
    wpm: Optional[float]
    loudness_dbfs: Optional[float]  # RMS of the party's signal over the turn's words
    loudness_score: Optional[float]  # 0-100
    vocal_effort_db: Optional[float]  # alpha ratio; higher is more effort, whatever the gain
    pitch_hz: Optional[float]  # median F0 of voiced frames
    pitch_std_st: Optional[float]  # F0 variability in semitones; low means monotone


@dataclass
class PartyVoice:
    loudness_dbfs: Optional[float]  # mean of turn loudness: the recording's gain as much as the voice
    loudness_score: Optional[float]
    dynamic_range_db: Optional[float]  # spread of turn loudness (std, outlying turns clipped)
    vocal_effort_db: Optional[float]  # median of the turns' alpha ratio
    # pitch_std_st and pitch_range_st below are None under MIN_SPREAD_FRAMES of voicing
    pitch_hz: Optional[float]  # median F0 over all voiced frames
    pitch_std_st: Optional[float]
    pitch_range_st: Optional[float]  # 10th to 90th percentile of F0


@dataclass
class Characteristics:
    handle_time: Optional[HandleTime]  # None (like non_talk and latency) for text without times
    talk: dict[str, PartyTalk]
    non_talk: Optional[NonTalk]
    interruptions: Optional[Interruptions]  # None also for mono: one word stream shows no overlap
    latency: Optional[Latency]
    turns: list[TurnMeasure]
    voice: Optional[dict[str, PartyVoice]]  # None for text-only calls
    skipped: dict[str, str]  # measure -> why it is missing
    timed: bool = True  # False for text without times: its turn times are only an order

    def to_dict(self) -> dict:
        return asdict(self)


UNTIMED = "text without begin_ms/end_ms: there are no times to measure it from"
UNTIMED_MEASURES = ("handle_time", "talk_time", "talk_speed", "silences", "interruptions", "latency")


def measure(
    conversation: Conversation,
    party_audio: Optional[dict[str, np.ndarray]] = None,
    silence_threshold_ms: int = 5000,
    overlap_measurable: bool = True,
) -> Characteristics:
    """Measure a call. ``party_audio`` maps party -> mono signal at SAMPLE_RATE (int16 or float): that
    party's channel for stereo, or the same mixed signal for both parties for mono (loudness and
    pitch are then read only inside the party's own turns). ``overlap_measurable`` is False for a
    mono recording: its one transcription gives one word at a time, so interruptions are skipped."""
    turns = conversation.turns
    skipped: dict[str, str] = {}
    if party_audio is None:
        skipped["loudness"] = skipped["vocal_effort"] = skipped["pitch"] = "no audio: text-only conversation"
    if not conversation.timed:
        return _untimed(turns, skipped)

    spurts = {p: _stretches([t for t in turns if t.speaker == p], SPURT_GAP_MS) for p in PARTIES}
    utterances = {p: _stretches([t for t in turns if t.speaker == p], PAUSE_MS) for p in PARTIES}
    speech = {p: [(u.begin_ms, u.end_ms) for u in utterances[p]] for p in PARTIES}
    everyone = _union(s for p in PARTIES for s in speech[p])
    audio_ms = max((len(x) * 1000 // SAMPLE_RATE for x in (party_audio or {}).values()), default=0)
    duration = max(conversation.duration_ms, audio_ms, everyone[-1][1] if everyone else 0)

    turn_measures = [_turn_measure(i, t) for i, t in enumerate(turns)]
    voice = None
    if party_audio is not None:
        voice = _voice(turns, turn_measures, {p: _mono(p, x) for p, x in party_audio.items()}, skipped)
    interruptions = None
    if overlap_measurable:
        interruptions = _interruptions(spurts, utterances)
    else:
        skipped["interruptions"] = ("mono recording: one transcription gives one word at a time, so it cannot show "
                                    "both parties speaking at once")

    return Characteristics(
        handle_time=HandleTime(
            duration_ms=duration,
            first_speech_ms=everyone[0][0] if everyone else None,
            last_speech_ms=everyone[-1][1] if everyone else None,
            speech_span_ms=everyone[-1][1] - everyone[0][0] if everyone else 0,
        ),
        talk=_talk(turns, speech),
        non_talk=_non_talk(everyone, duration, silence_threshold_ms),
        interruptions=interruptions,
        latency=_latency(turns, utterances[AGENT]),
        turns=turn_measures,
        voice=voice,
        skipped=skipped,
    )


def _untimed(turns: list[Turn], skipped: dict[str, str]) -> Characteristics:
    """Text without times: counts only; every time-based measure is None and listed as skipped."""
    skipped.update(dict.fromkeys(UNTIMED_MEASURES, UNTIMED))
    talk = {p: PartyTalk(None, None, sum(t.speaker == p for t in turns),
                         sum(len(_tokens(t)) for t in turns if t.speaker == p), None) for p in PARTIES}
    measures = [TurnMeasure(i, t.speaker, None, None, len(_tokens(t)), None, None, None, None, None, None, None)
                for i, t in enumerate(turns)]
    return Characteristics(None, talk, None, None, None, measures, None, skipped, timed=False)


# --- time-based measures --------------------------------------------------------------------


def _speech(turn: Turn) -> list[Span]:
    """Where the turn's party is actually speaking: its words, else the whole turn."""
    spans = [(w.begin_ms, w.end_ms) for w in turn.words if w.end_ms > w.begin_ms]
    if not spans and turn.end_ms > turn.begin_ms:
        spans = [(turn.begin_ms, turn.end_ms)]
    return spans


def _tokens(turn: Turn) -> list[str]:
    return [w.text.strip() for w in turn.words] if turn.words else turn.text.split()


def _union(spans, bridge_ms: int = 0) -> list[Span]:
    """Merge spans that touch, overlap or are less than ``bridge_ms`` apart."""
    merged: list[list[int]] = []
    for b, e in sorted(spans):
        if merged and (b <= merged[-1][1] or b - merged[-1][1] < bridge_ms):
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([b, e])
    return [(b, e) for b, e in merged]


def _total(spans: list[Span]) -> int:
    return sum(e - b for b, e in spans)


def _wpm(words: int, talk_ms: int) -> Optional[float]:
    return round(words * 60000 / talk_ms, 1) if talk_ms > 0 else None


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole > 0 else 0.0


def _talk(turns: list[Turn], speech: dict[str, list[Span]]) -> dict[str, PartyTalk]:
    both = sum(_total(speech[p]) for p in PARTIES)
    talk = {}
    for p in PARTIES:
        mine = [t for t in turns if t.speaker == p]
        words = sum(len(_tokens(t)) for t in mine)
        talk_ms = _total(speech[p])
        talk[p] = PartyTalk(talk_ms, _pct(talk_ms, both), len(mine), words, _wpm(words, talk_ms))
    return talk


def _non_talk(speech: list[Span], duration: int, threshold_ms: int) -> NonTalk:
    edges = [0] + [x for s in speech for x in s] + [duration]
    gaps = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2) if edges[i + 1] > edges[i]]
    silences = []
    for b, e in gaps:
        if e - b < threshold_ms:
            continue
        first, last = not speech or e <= speech[0][0], not speech or b >= speech[-1][1]
        position = "whole" if first and last else "lead_in" if first else "trailing" if last else "between"
        silences.append(Silence(b, e, e - b, position))
    total = _total(gaps)
    return NonTalk(total_ms=total, pct=_pct(total, duration), silences=silences)


@dataclass
class _Stretch:
    """One party's continuous speech: its words joined across gaps shorter than a bridge, and turn splits."""

    begin_ms: int
    end_ms: int
    words: list[tuple[str, int, int]]  # (text, begin_ms, end_ms); a whole turn's text without word times
    word_times: bool = True  # False when a turn without word times is part of it

    @property
    def tokens(self) -> list[str]:
        return " ".join(text for text, _, _ in self.words).split()


def _stretches(turns: list[Turn], bridge_ms: int) -> list[_Stretch]:
    pieces = []
    for t in turns:
        if t.words:
            pieces += [(w.text.strip(), w.begin_ms, max(w.begin_ms, w.end_ms), True) for w in t.words]
        else:
            pieces.append((t.text, t.begin_ms, t.end_ms, False))
    stretches: list[_Stretch] = []
    for text, b, e, word_times in sorted(pieces, key=lambda p: (p[1], p[2])):
        if stretches and (b <= stretches[-1].end_ms or b - stretches[-1].end_ms < bridge_ms):
            stretches[-1].end_ms = max(stretches[-1].end_ms, e)
            stretches[-1].words.append((text, b, e))
            stretches[-1].word_times &= word_times
        else:
            stretches.append(_Stretch(b, e, [(text, b, e)], word_times))
    return stretches


def _normal(tokens) -> list[str]:
    words = [re.sub(r"[^\w'-]", "", t.lower()) for t in tokens]
    return [w for w in words if w]


def _is_backchannel(tokens: list[str]) -> bool:
    words = _normal(tokens)
    return 0 < len(words) <= MAX_BACKCHANNEL_WORDS and all(w in BACKCHANNEL_WORDS for w in words)


def _is_confirmation(tokens: list[str], just_said: list[str]) -> bool:
    words = _normal(tokens)
    content = [w for w in words if w not in BACKCHANNEL_WORDS and w not in FUNCTION_WORDS]
    return 0 < len(words) <= MAX_CONFIRMATION_WORDS and bool(content) and set(content) <= set(_normal(just_said))


def _containing(stretches: list[_Stretch], ms: int) -> Optional[_Stretch]:
    """The stretch that is under way at ``ms`` (started at or before it, not yet over)."""
    i = bisect.bisect_right([s.begin_ms for s in stretches], ms) - 1
    return stretches[i] if i >= 0 and stretches[i].end_ms > ms else None


def _interruptions(spurts: dict[str, list[_Stretch]], utterances: dict[str, list[_Stretch]]) -> Interruptions:
    """Every time a party starts while the other is speaking: listening (a backchannel or a
    confirmation), a takeover (the other stops within YIELD_MS and this party keeps the floor,
    counted as an interruption), or other overlap (a terminal overlap on the other's last word,
    talk that gave way, or parallel talk where the other held on)."""
    events = []
    counts, backchannels, confirmations, overlaps = ({p: 0 for p in PARTIES} for _ in range(4))
    for me, other in ((AGENT, CUSTOMER), (CUSTOMER, AGENT)):
        theirs = spurts[other]
        begins = [s.begin_ms for s in theirs]
        for s in spurts[me]:
            # the other party's last spurt that started strictly before mine
            i = bisect.bisect_left(begins, s.begin_ms) - 1
            if i < 0 or min(s.end_ms, theirs[i].end_ms) - s.begin_ms < MIN_OVERLAP_MS:
                continue
            tokens = s.tokens
            just_said = [w for u in utterances[other] for text, b, e in u.words
                         if e >= s.begin_ms - CONFIRMATION_WINDOW_MS and b <= s.end_ms for w in text.split()]
            if _is_backchannel(tokens):
                backchannels[me] += 1
                continue
            if _is_confirmation(tokens, just_said):
                confirmations[me] += 1
                continue
            # the other party's spurt under way, which ends where they stop: falling silent for over
            # KEEP_FLOOR_MS once talked over is giving way, not a breath; and my utterance, which goes on
            held, mine = theirs[i], _containing(utterances[me], s.begin_ms)
            resumed_ms = theirs[i + 1].begin_ms if i + 1 < len(theirs) else None
            # cut off: the other party still had a word to start, not just finishing its last one
            # (without word times that cannot be told, and the overlap is taken as a cut)
            cut_off = any(b >= s.begin_ms for _, b, _ in held.words) or not held.word_times
            gave_way = resumed_ms is None or resumed_ms >= held.end_ms + KEEP_FLOOR_MS
            if (cut_off and gave_way and held.end_ms - s.begin_ms <= YIELD_MS
                    and mine.end_ms >= held.end_ms + KEEP_FLOOR_MS):
                events.append(Interruption(me, other, s.begin_ms, held.end_ms, held.end_ms - s.begin_ms, " ".join(tokens)))
                counts[me] += 1
            else:
                overlaps[me] += 1
    events.sort(key=lambda e: e.begin_ms)
    return Interruptions(events, counts, backchannels, confirmations, overlaps)


def _latency(turns: list[Turn], agent_utterances: list[_Stretch]) -> Latency:
    ordered = sorted(turns, key=lambda t: (t.begin_ms, t.end_ms))
    responses = []
    for c, a in zip(ordered, ordered[1:]):
        if c.speaker != CUSTOMER or a.speaker != AGENT:
            continue
        # a customer interjection inside the agent's speech is not something the agent answers
        if any(u.begin_ms < c.begin_ms and u.end_ms > c.end_ms for u in agent_utterances):
            continue
        responses.append(Response(c.end_ms, a.begin_ms, a.begin_ms - c.end_ms))
    gaps = [r.gap_ms for r in responses]
    return Latency(
        responses=responses,
        mean_ms=round(float(np.mean(gaps)), 1) if gaps else None,
        median_ms=round(float(np.median(gaps)), 1) if gaps else None,
        max_ms=max(gaps) if gaps else None,
    )


def _turn_measure(index: int, turn: Turn) -> TurnMeasure:
    words = len(_tokens(turn))
    talk_ms = _total(_union(_speech(turn), PAUSE_MS))
    return TurnMeasure(
        index, turn.speaker, turn.begin_ms, turn.end_ms, words, talk_ms, _wpm(words, talk_ms),
        loudness_dbfs=None, loudness_score=None, vocal_effort_db=None, pitch_hz=None, pitch_std_st=None,
    )


# --- acoustic measures ----------------------------------------------------------------------


def _voice(
    turns: list[Turn],
    measures: list[TurnMeasure],
    party_audio: dict[str, np.ndarray],
    skipped: dict[str, str],
) -> dict[str, PartyVoice]:
    """Fill the turns' loudness and pitch in place and summarize them per party."""
    loudness: dict[str, list[float]] = {p: [] for p in PARTIES}
    effort: dict[str, list[float]] = {p: [] for p in PARTIES}
    f0: dict[str, list[np.ndarray]] = {p: [] for p in PARTIES}
    for turn, m in zip(turns, measures):
        signal = party_audio.get(turn.speaker)
        if signal is None:
            continue
        spans = _union(_speech(turn))
        samples = to_float(np.concatenate([signal[_sample(b) : _sample(e)] for b, e in spans] or [signal[:0]]))
        if samples.size:
            m.loudness_dbfs = _dbfs(samples)
            m.loudness_score = _score(m.loudness_dbfs)
            loudness[turn.speaker].append(m.loudness_dbfs)
            m.vocal_effort_db = _vocal_effort(samples)
            if m.vocal_effort_db is not None:
                effort[turn.speaker].append(m.vocal_effort_db)
        voiced = _turn_f0(signal, turn, spans)
        if len(voiced) >= MIN_VOICED_FRAMES:
            m.pitch_hz = round(float(np.median(voiced)), 1)
            m.pitch_std_st = round(float(np.std(_semitones(voiced))), 2)
            f0[turn.speaker].append(voiced)

    voice = {}
    for p in PARTIES:
        voice[p] = _party_voice(loudness[p], effort[p], _plausible(np.concatenate(f0[p])) if f0[p] else np.zeros(0))
        if p not in party_audio:
            skipped[f"voice.{p}"] = f"no audio for {p}"
        elif not any(t.speaker == p for t in turns):
            skipped[f"voice.{p}"] = f"{p} never speaks"
        elif voice[p].pitch_hz is None:
            skipped[f"pitch.{p}"] = f"too little voiced speech from {p}"
        elif voice[p].pitch_std_st is None:
            voiced_s = sum(map(len, f0[p])) * PITCH_HOP_MS / 1000
            skipped[f"pitch_variation.{p}"] = (f"{voiced_s:.1f} s of voiced speech from {p}: "
                                               f"{MIN_SPREAD_FRAMES * PITCH_HOP_MS // 1000} s are needed to judge its variation")
    return voice


def _mono(party: str, signal: np.ndarray) -> np.ndarray:
    signal = np.asarray(signal)  # read a turn at a time through to_float: no float copy of the call
    if signal.ndim != 1:
        raise ValueError(f"{party} audio must be one mono signal, got shape {signal.shape}")
    return signal


def _party_voice(loudness: list[float], effort: list[float], f0: np.ndarray) -> PartyVoice:
    pitched = len(f0) >= MIN_VOICED_FRAMES
    spread = len(f0) >= MIN_SPREAD_FRAMES
    st = _semitones(f0) if pitched else None
    return PartyVoice(
        loudness_dbfs=round(float(np.mean(loudness)), 1) if loudness else None,
        loudness_score=round(float(np.mean([_score(x) for x in loudness])), 1) if loudness else None,
        dynamic_range_db=round(_robust_std(np.array(loudness)), 1) if len(loudness) >= 2 else None,
        vocal_effort_db=round(float(np.median(effort)), 2) if effort else None,
        pitch_hz=round(float(np.median(f0)), 1) if pitched else None,
        pitch_std_st=round(float(np.std(st)), 2) if spread else None,
        pitch_range_st=round(float(np.percentile(st, 90) - np.percentile(st, 10)), 2) if spread else None,
    )


def _robust_std(values: np.ndarray) -> float:
    """The standard deviation with outliers clipped to ROBUST_CLIP robust deviations of the median
    (1.4826 median absolute deviations): one misplaced word measured in silence is not a turn
    40 dB quieter, and must not make a level voice read as lively."""
    median = np.median(values)
    spread = ROBUST_CLIP * 1.4826 * np.median(np.abs(values - median))
    return float(np.std(np.clip(values, median - spread, median + spread)))


def _sample(ms: int) -> int:
    return max(0, ms * SAMPLE_RATE // 1000)


def _dbfs(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return round(max(MIN_DBFS, 20 * np.log10(max(rms, 1e-12))), 1)


def _vocal_effort(samples: np.ndarray) -> Optional[float]:
    """Alpha ratio in dB of the frames within EFFORT_RANGE_DB of the loudest (pauses and line noise
    left out, relative to the speech itself so the choice does not depend on gain either)."""
    if samples.size < EFFORT_FRAME:
        return None
    frames = librosa.util.frame(samples, frame_length=EFFORT_FRAME, hop_length=EFFORT_FRAME // 2, axis=0)
    power = np.abs(np.fft.rfft(frames * np.hanning(EFFORT_FRAME), axis=1)) ** 2
    energy = power.sum(axis=1)
    loud = energy >= np.percentile(energy, 95) * 10 ** (-EFFORT_RANGE_DB / 10)
    if not energy.any() or loud.sum() < MIN_VOICED_FRAMES:
        return None
    hz = np.fft.rfftfreq(EFFORT_FRAME, 1 / SAMPLE_RATE)
    low = power[loud][:, (hz >= EFFORT_LOW_HZ[0]) & (hz < EFFORT_LOW_HZ[1])].sum()
    high = power[loud][:, (hz >= EFFORT_HIGH_HZ[0]) & (hz < EFFORT_HIGH_HZ[1])].sum()
    if low <= 0 or high <= 0:
        return None
    return round(float(10 * np.log10(high / low)), 2)


def _score(dbfs: float) -> float:
    return round(float(np.clip(100 * (dbfs - SCORE_FLOOR_DBFS) / (SCORE_CEIL_DBFS - SCORE_FLOOR_DBFS), 0, 100)), 1)


def _semitones(f0: np.ndarray) -> np.ndarray:
    return 12 * np.log2(f0 / np.median(f0))


def _turn_f0(signal: np.ndarray, turn: Turn, spans: list[Span]) -> np.ndarray:
    """F0 of the voiced frames whose centres fall inside the turn's words."""
    y = to_float(signal[_sample(turn.begin_ms) : _sample(turn.end_ms)])
    if y.size == 0:
        return np.zeros(0)
    f0 = _voiced_f0(y)
    centres = turn.begin_ms + PITCH_HOP_MS * np.arange(len(f0))
    inside = np.zeros(len(f0), dtype=bool)
    for b, e in spans:
        inside |= (centres >= b) & (centres < e)
    f0 = f0[inside]
    return _plausible(f0[~np.isnan(f0)])


def _plausible(f0: np.ndarray) -> np.ndarray:
    """Drop octave errors: frames too far from the median to be the same voice's intonation."""
    if f0.size == 0:
        return f0
    return f0[np.abs(_semitones(f0)) <= MAX_DEVIATION_ST]


def _voiced_f0(y: np.ndarray) -> np.ndarray:
    """yin F0 per frame (frame i centred on sample i * PITCH_HOP), NaN where unvoiced."""
    y = np.pad(y, PITCH_FRAME // 2)  # centre the frames, as librosa's center=True would
    frames = librosa.util.frame(y, frame_length=PITCH_FRAME, hop_length=PITCH_HOP, axis=0)
    f0 = librosa.yin(
        y, fmin=FMIN_HZ, fmax=FMAX_HZ, sr=SAMPLE_RATE,
        frame_length=PITCH_FRAME, hop_length=PITCH_HOP, center=False,
    )
    # normalized autocorrelation at the yin period: near 1 for voiced speech, near 0 for noise
    lag = np.round(SAMPLE_RATE / f0).astype(int)
    width = PITCH_FRAME - int(np.ceil(SAMPLE_RATE / FMIN_HZ)) - 1
    head = frames[:, :width]
    tail = np.take_along_axis(frames, lag[:, None] + np.arange(width), axis=1)
    energy = np.sum(head * head, axis=1) * np.sum(tail * tail, axis=1)
    periodicity = np.sum(head * tail, axis=1) / np.sqrt(np.maximum(energy, 1e-20))
    rms = np.sqrt(np.mean(np.square(frames), axis=1))
    voiced = (periodicity >= MIN_PERIODICITY) & (rms >= 10 ** (MIN_FRAME_DBFS / 20))
    return np.where(voiced, f0, np.nan)
