"""Speakers: split a mono call into two voices, then decide which voice is the agent.

Diarization is VAD (silero) -> speaker embeddings on sliding windows inside speech (resemblyzer)
-> clustering -> per-frame labels, smoothed and merged into segments; each transcribed word takes
the voice of the speech it lies in. The agent is then the voice whose words over the whole call
read as the agent's (a party classifier on the turn encoder), with phrase cues (greetings,
security checks, closings) and the shape of the call as weak cues.
"""

from __future__ import annotations

import bisect
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, to_float
from .conversation import AGENT, CUSTOMER, Turn, Word, build_turns
from .heads import Head, load_heads
from .vad import speech_regions

FRAME_MS = 10  # resemblyzer's mel hop: one label per 10 ms frame
WINDOW_MS = 1500  # long enough for a stable voice embedding, short enough to sit in one turn
HOP_MS = 500
# The shortest embedding window. A short reply ("I'll hold.", "Okay, thanks.") is often cut by voice activity
# into pieces of 150-350 ms: at 400 ms they had no embedding and went to the agent's turn around them. Judged
# against the centroids of full-length windows, 250 ms pieces gave 0.991 of speech time to the right party on
# the 20 mono agreement calls, against 0.976 at 400 ms. A shorter piece is widened to this into the pause
# around it: a customer's closing "No." of 188 ms, left without an embedding, went to the agent's "Is there
# anything else?" 2 s before it; widened, it is 0.63 like the customer's voice against 0.44 the agent's.
# Speech with no room to widen takes the label of the nearest window.
MIN_WINDOW_MS = 250
# Windows at least this long shape the voices (the clusters' centroids); shorter ones are judged against
# them. A party who speaks only in short bursts still needs windows of their own there: in
# azure_katiesteve_mono every one of Steve's replies ("No, tell me more.", two phrases of 1.1-1.2 s) is
# under 1.5 s, so at WINDOW_MS he shaped no voice and was found as Katie's.
FIT_MIN_MS = 1000
EMBED_BATCH = 512
MEL_BLOCK_FRAMES = 6000  # 60 s of mel frames computed at a time
SUM_BLOCK = 1 << 20  # samples squared and summed at a time
MIN_SPEAKER_WINDOWS = 5  # about 3 s of speech: less is not a second party worth a voice of its own
MAX_CLUSTERED_WINDOWS = 4000  # about 33 minutes of speech; Ward's memory grows with the square
MIN_RUN_MS = 500  # label flips shorter than this are smoothed away
MISSED_WORDS_JOIN_MS = 100  # words voice activity missed, this close, are one region (its own pause rule)
REFINE_STEPS = 5  # nearest-centroid passes after Ward (k-means on the sphere); it settles in 2-3

# Cosine similarity of the two cluster centroids above which they are taken to be one voice.
# Measured with the refined centroids: forcing two clusters on one speaker gives 0.95 and 0.94
# (the two sides of a real phone call), 0.93-0.95 (synthetic joe, espeak f3, espeak m3 at 8 kHz);
# two real speakers 0.76 (that call mixed to mono), 0.60 and 0.83 (two-person recordings), 0.88
# (pyannote's sample); synthetic pairs at 8 kHz 0.72 (joe/espeak f3) and 0.87 (joe/espeak m3).
SAME_SPEAKER_SIMILARITY = 0.9
# In a call of stable windows, a few of a voice this unlike the other are a second party who says
# little ("Yes.", "Thanks, bye."): 0.61-0.81 measured for such callers (synthesised 8 kHz calls;
# azure_katiesteve_mono, 3 windows). A small cluster closer than this is one speaker split on intonation.
DISTINCT_VOICE_SIMILARITY = 0.85
# Two voices closer than DISTINCT_VOICE_SIMILARITY whose words both clearly read as the agent's (mean agent
# log-odds at least this) are one agent: a one-speaker recording splits on intonation or line conditions
# as far apart as two real speakers (aws_lca_demo_agent: 0.875, its halves +1.52 and +0.72; two speakers
# in pyannote's sample 0.882), but a caller does not talk like the agent for a whole call.
ONE_PARTY_LEANING = 0.5
# Whisper times a segment's first word from where the previous segment ended, so a reply's opening
# "I" can lie in the other voice's speech (c-020 mono: "What's the query? I" / "got a bill for 600
# pounds", the "I" stretched over the 1 s pause). A sentence is one speaker's: its first word or two,
# voiced unlike all the rest of it (more words than the opening), go with the rest.
SENTENCE_OPENING_WORDS = 2
SENTENCE_END = re.compile(r"[.?!]$")


@dataclass
class SpeakerSegment:
    label: int
    begin_ms: int
    end_ms: int


# ---------------------------------------------------------------------------------------------
# Diarization


@lru_cache(maxsize=1)
def load_voice_encoder():
    with warnings.catch_warnings():  # resemblyzer's webrtcvad imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        from resemblyzer import VoiceEncoder

    # The CPU even with a GPU present: the LSTM is small (about 3 s for a 4-minute call here).
    return VoiceEncoder("cpu", verbose=False)


def diarize(samples: np.ndarray, num_speakers: int = 2,
            regions: list[tuple[int, int]] | None = None) -> list[SpeakerSegment]:
    """Who spoke when, for mono audio at 16 kHz (int16 or float). Labels are 0..num_speakers-1 in order of
    first appearance; a call with one voice comes back with label 0 only, silence with no segments.
    Speech too short to embed (under MIN_WINDOW_MS, with no pause around it to widen into) takes the
    label of the nearest window in time.
    ``regions``: the samples' voice activity when already found (``Transcript.speech_regions``)."""
    return _voices(samples, num_speakers, regions)[0]


def _voices(samples: np.ndarray, num_speakers: int = 2,
            regions: list[tuple[int, int]] | None = None) -> tuple[list[SpeakerSegment], float | None]:
    """``diarize``'s segments, and how alike the two voices are (cosine of their centroids; None
    with fewer than two)."""
    if regions is None:
        regions = speech_regions(samples)
    windows = _windows(regions)
    if not windows:
        return [], None
    embeddings = _embed(samples, windows)
    labels, similarity = _cluster(embeddings, num_speakers, np.array([e - b >= FIT_MIN_MS for b, e in windows]))

    n_frames = len(samples) * 1000 // SAMPLE_RATE // FRAME_MS + 1
    frame_labels = _frame_labels(regions, windows, labels, n_frames)
    frame_labels = _smooth(frame_labels, MIN_RUN_MS // FRAME_MS)
    return _segments(frame_labels), similarity


def _windows(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Embedding windows (begin_ms, end_ms) that stay inside one speech region: a region shorter
    than a window gets one window of its own length, widened to MIN_WINDOW_MS into the pauses around
    it where they leave room (never into the speech beside it)."""
    windows = []
    for k, (begin, end) in enumerate(regions):
        if end - begin < MIN_WINDOW_MS:
            low = regions[k - 1][1] if k else 0
            high = regions[k + 1][0] if k + 1 < len(regions) else end + MIN_WINDOW_MS
            widen = (MIN_WINDOW_MS - (end - begin) + 1) // 2
            begin, end = max(low, begin - widen), min(high, end + widen)
            if end - begin >= MIN_WINDOW_MS:
                windows.append((begin, end))
            continue
        if end - begin <= WINDOW_MS:
            windows.append((begin, end))
            continue
        starts = list(range(begin, end - WINDOW_MS + 1, HOP_MS))
        if starts[-1] + WINDOW_MS < end:
            starts.append(end - WINDOW_MS)  # cover the tail of the region too
        windows.extend((s, s + WINDOW_MS) for s in starts)
    return windows


def _embed(samples: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """One L2-normed resemblyzer embedding per window, in a single batched LSTM pass over a mel
    spectrogram computed once for the whole call."""
    import torch

    encoder = load_voice_encoder()
    mel = _mel(samples)
    outputs = []
    # batches bound the LSTM's memory on long calls (a two-hour call has ~14,000 windows)
    for first in range(0, len(windows), EMBED_BATCH):
        chunks = [torch.from_numpy(mel[b // FRAME_MS : e // FRAME_MS]) for b, e in windows[first:first + EMBED_BATCH]]
        lengths = torch.tensor([len(c) for c in chunks])
        # packing lets windows of different lengths share one pass; the final hidden state of each
        # sequence is then taken at its own last frame
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            torch.nn.utils.rnn.pad_sequence(chunks, batch_first=True), lengths, batch_first=True, enforce_sorted=False
        )
        with torch.no_grad():
            _, (hidden, _) = encoder.lstm(packed)
            outputs.append(encoder.relu(encoder.linear(hidden[-1])).numpy())
    raw = np.concatenate(outputs)
    return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)


def _mel(samples: np.ndarray) -> np.ndarray:
    """resemblyzer's input, (frames, bands): ``wav_to_mel_spectrogram(normalize_volume(samples,
    -30, increase_only=True))``, computed MEL_BLOCK_FRAMES at a time. resemblyzer's own functions
    hold a scaled copy of the call and its whole spectrum (1.1 GB more for a 58-minute call); each
    frame depends only on its own 400 samples (zeros beyond the ends), so the blocks give the same
    frames, to float32 rounding."""
    import librosa
    from resemblyzer import hparams

    n_fft = hparams.sampling_rate * hparams.mel_window_length // 1000
    hop = hparams.sampling_rate * hparams.mel_window_step // 1000
    n_frames = len(samples) // hop + 1
    gain = np.float32(_volume_gain(samples, hparams.audio_norm_target_dBFS))
    mel = np.empty((n_frames, hparams.mel_n_channels), dtype=np.float32)
    for first in range(0, n_frames, MEL_BLOCK_FRAMES):
        last = min(first + MEL_BLOCK_FRAMES, n_frames)
        begin, end = first * hop - n_fft // 2, (last - 1) * hop + n_fft // 2
        block = np.zeros(end - begin, dtype=np.float32)
        block[max(0, -begin) : min(end, len(samples)) - begin] = to_float(samples[max(0, begin) : end])
        block *= gain
        mel[first:last] = librosa.feature.melspectrogram(y=block, sr=hparams.sampling_rate, n_fft=n_fft, hop_length=hop,
                                                         n_mels=hparams.mel_n_channels, center=False).T
    return mel


def _volume_gain(samples: np.ndarray, target_dbfs: float) -> float:
    """The factor resemblyzer's ``normalize_volume(increase_only=True)`` scales by, from the RMS
    summed in float64 a block at a time (no squared copy of the call)."""
    energy = 0.0
    for start in range(0, len(samples), SUM_BLOCK):
        block = to_float(samples[start : start + SUM_BLOCK]).astype(np.float64)
        energy += float(block @ block)
    rms = np.sqrt(energy / max(len(samples), 1))
    change = target_dbfs - 20 * np.log10(rms) if rms > 0 else 0.0
    return float(10 ** (change / 20)) if change > 0 else 1.0


def _cluster(embeddings: np.ndarray, num_speakers: int, full: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Ward clustering of the (unit-length, so Euclidean ~ cosine) embeddings of full-length
    windows (``full``), refined k-means style, then every window to its nearest centroid; two
    near-identical centroids collapse into one voice. Ward keeps clusters balanced where average
    linkage split off a single odd window; but Ward's own labels put short replies ("Okay.",
    "You too, bye.") with the other voice, and short windows' embeddings drift: they are judged
    against the centroids of full-length windows instead of shaping them. Measured on 8 kHz
    synthesised calls: 0.94 of speech time right with Ward on every window, 0.98-1.00 so; fitting
    on every window and then taking nearest centroids gave 0.94 on the closest voice pair. Returns the
    labels and, for two voices, their centroids' cosine similarity."""
    from sklearn.cluster import AgglomerativeClustering

    # a call long enough for full-length windows has embeddings stable enough to trust a small cluster
    stable = full.sum() >= 2 * MIN_SPEAKER_WINDOWS
    fit = embeddings[full] if stable else embeddings
    k = min(num_speakers, len(fit))
    one_voice = np.zeros(len(embeddings), dtype=int), None
    if k < 2:
        return one_voice
    # Ward needs memory quadratic in the windows: cluster an even sample of a long call
    sample = fit[np.linspace(0, len(fit) - 1, min(len(fit), MAX_CLUSTERED_WINDOWS)).astype(int)]
    labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(sample)
    for _ in range(REFINE_STEPS):
        centroids = _centroids(sample, labels, k)
        labels = (sample @ centroids.T).argmax(axis=1)
        if np.bincount(labels, minlength=k).min() == 0:
            return one_voice
    centroids = _centroids(sample, labels, k)
    similarity = None
    if k == 2:
        # one voice: two near-identical centroids, or a "second speaker" of a few windows that is not
        # clearly another voice, or any few windows of a clip of seconds (one person reading a sentence
        # splits on intonation alone, 0.72 alike: its short windows' embeddings are unstable)
        similarity = float(centroids[0] @ centroids[1])
        few = np.bincount(labels, minlength=2).min() < MIN_SPEAKER_WINDOWS
        if similarity > SAME_SPEAKER_SIMILARITY or (few and (not stable or similarity > DISTINCT_VOICE_SIMILARITY)):
            return one_voice
    return (embeddings @ centroids.T).argmax(axis=1), similarity


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    c = np.stack([embeddings[labels == i].mean(axis=0) for i in range(k)])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def _frame_labels(regions, windows, labels, n_frames: int) -> np.ndarray:
    """Label each speech frame with the window whose centre is nearest (-1 outside speech)."""
    frames = np.full(n_frames, -1, dtype=int)
    centres = np.array([(b + e) / 2 for b, e in windows])
    order = np.argsort(centres)
    centres, labels = centres[order], np.asarray(labels)[order]
    for begin, end in regions:
        idx = np.arange(begin // FRAME_MS, min(end // FRAME_MS, n_frames))
        times = idx * FRAME_MS + FRAME_MS / 2
        right = np.clip(np.searchsorted(centres, times), 1, len(centres) - 1) if len(centres) > 1 else np.zeros(len(times), int)
        left = np.maximum(right - 1, 0)
        nearest = np.where(np.abs(times - centres[left]) <= np.abs(times - centres[right]), left, right)
        frames[idx] = labels[nearest]
    return frames


def _smooth(frames: np.ndarray, min_run: int) -> np.ndarray:
    """Give a speech run shorter than ``min_run`` frames the label of the speech it sits inside.
    Only runs touching other speech are changed: a short reply standing alone between pauses is a
    real turn (a "yes" or "okay"), not a flip."""
    frames = frames.copy()
    runs = _runs(frames)
    for i, (label, start, stop) in enumerate(runs):
        if label < 0 or stop - start >= min_run:
            continue
        neighbours = {r[0] for r in runs[max(i - 1, 0) : i + 2] if r[0] >= 0 and r[0] != label}
        if len(neighbours) == 1:
            frames[start:stop] = neighbours.pop()
    return frames


def _runs(frames: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, start, stop) for each run of equal values."""
    if len(frames) == 0:
        return []
    edges = np.flatnonzero(np.diff(frames)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(frames)]])
    return [(int(frames[s]), int(s), int(e)) for s, e in zip(starts, stops)]


def _segments(frames: np.ndarray) -> list[SpeakerSegment]:
    """Speech runs as segments, with labels renumbered by first appearance."""
    order: dict[int, int] = {}
    segments = []
    for label, start, stop in _runs(frames):
        if label < 0:
            continue
        order.setdefault(label, len(order))
        segments.append(SpeakerSegment(order[label], start * FRAME_MS, stop * FRAME_MS))
    return segments


def label_words(words: list[Word], segments: list[SpeakerSegment]) -> list[tuple[int, Word]]:
    """Each word with the label of the segment it overlaps most, or of the nearest segment when it
    overlaps none (ASR and VAD disagree by a few hundred ms at turn edges). Without segments every
    word gets label 0: one unknown voice."""
    if not segments:
        return [(0, w) for w in words]
    begins = np.array([s.begin_ms for s in segments])
    ends = np.array([s.end_ms for s in segments])
    labelled = []
    for w in words:
        overlap = np.minimum(ends, w.end_ms) - np.maximum(begins, w.begin_ms)
        if overlap.max() > 0:
            best = int(overlap.argmax())
        else:
            best = int(np.maximum(begins - w.end_ms, w.begin_ms - ends).argmin())
        labelled.append((segments[best].label, w))
    return labelled


def with_sentence_openings(labelled: list[tuple[int, Word]]) -> list[tuple[int, Word]]:
    """``labelled`` words with each sentence's opening word or two given the voice of the rest of it,
    where all the rest has one other voice (SENTENCE_OPENING_WORDS)."""
    labels = [label for label, _ in labelled]
    begin = 0
    for end, (_, word) in enumerate(labelled, 1):
        if not (SENTENCE_END.search(word.text.strip()) or end == len(labelled)):
            continue
        sentence = labels[begin:end]
        for k in range(1, SENTENCE_OPENING_WORDS + 1):
            rest = set(sentence[k:])
            if len(sentence) - k > k and len(set(sentence[:k])) == 1 and len(rest) == 1 and rest != {sentence[0]}:
                labels[begin:begin + k] = [sentence[k]] * k
                break
        begin = end
    return [(label, word) for label, (_, word) in zip(labels, labelled)]


# ---------------------------------------------------------------------------------------------
# Which voice is the agent


@dataclass
class AgentDecision:
    agent_label: str
    confidence: float  # 0 (a guess) .. 1 (clear)
    evidence: list[str] = field(default_factory=list)
    leanings: dict[str, float] = field(default_factory=dict)  # speaker -> how much their words read as the agent's

    @property
    def uncertain(self) -> bool:
        return self.confidence < LOW_CONFIDENCE


# The party classifier: agent log-odds of a turn from its sentence embedding (trained by
# training.train.train_party on the team's corpus, where every utterance has its party).
PARTY_MODEL_PATH = Path(__file__).parent / "data" / "party.json"
PARTY_CLASSES = (CUSTOMER, AGENT)
MAX_TURN_LOGIT = 4.0  # one confident turn cannot outvote the rest of the call
PRIOR_WORDS = 30  # a voice's leaning counts fully only once it has said well over this many words


# (pattern, weight, what it shows). Each pattern counts once per speaker so that a repeated
# "let me check" does not outweigh the greeting.
AGENT_CUES = [
    (r"thanks? (you )?for calling", 3.0),
    (r"how (can|may) i (help|assist) you", 2.5),
    (r"my name is \w+", 1.0),
    (r"this is \w+ (from|with|at) ", 1.5),
    (r"anything else (i|we) can (help|do|assist)", 2.5),
    (r"have a (great|good|nice|wonderful|lovely) (day|evening|afternoon|weekend|one)", 1.0),
    (r"(can|could|may) i (have|get|take) your (full name|name|account|policy|phone|member|order|reference|date of birth)", 2.0),
    (r"for (security|verification)\b", 2.0),
    (r"(let me|i'll|i will) (check|pull up|look (that|this|it) up|look into)|pull up your account", 1.5),
    (r"thanks? (you )?for (your patience|holding|waiting)", 2.0),
    (r"(bear|stay) with me|put you on (a brief |a short )?hold|one moment (please|while)", 1.5),
    (r"apologi[sz]e for the inconvenience|sorry for the inconvenience", 1.0),
    # the greeting that names the agent ("Greystone Bank, Martin speaking", "you're speaking to Debbie")
    (r"\b\w+ speaking\b(?! (to|with))|(you're|you are) (speaking|talking) (to|with) \w+", 1.5),
    # only the agent can pass the call on; the customer asks "can you put me through"
    (r"(i can|i'll|i will|let me) (get|put|transfer|connect|pass) you (through |over )?to", 2.0),
]
CUSTOMER_CUES = [
    (r"i'?m calling (about|because|to|regarding|for)|i am calling (about|because|to|regarding|for)", 3.0),
    (r"i (have|had|'ve got|am having|'m having) (a|an|some) (problem|issue|trouble|question|complaint)", 2.0),
    (r"\bmy (bill|account|order|car|vehicle|phone|internet|card|payment|appointment|package)\b", 1.0),
    (r"i (want|need|would like|'d like) to (cancel|return|dispute|complain|speak|schedule|book|make)", 2.0),
    (r"(i was|i've been|i got) (charged|told|billed)", 1.0),
]
PARTY_WEIGHT = 2.0  # points per unit of mean agent log-odds: what a voice says over the whole call
CUE_WEIGHT = 0.5  # the phrase cues above are weak cues next to the classifier
OPENER_WEIGHT = 0.5  # inbound calls usually open with the agent's greeting, but many open with the customer
CLOSER_WEIGHT = 0.25  # the agent usually has the last word ("have a great day"), less reliably
QUESTION_WEIGHT = 0.25  # per question more than the other side, capped at MAX_QUESTION_SCORE
MAX_QUESTION_SCORE = 1.0
CONFIDENCE_SCALE = 3.0  # a margin of 3 points gives confidence ~0.76
LOW_CONFIDENCE = 0.5  # below this the decision is reported as uncertain, never passed off as known


def load_party_model(path: Path = PARTY_MODEL_PATH) -> Head:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing: run `hostscore train` to build the party classifier")
    return load_heads(Path(path))["party"]


def party_logits(model: Head, embeddings: np.ndarray) -> np.ndarray:
    """Each row's agent log-odds, clipped to +-MAX_TURN_LOGIT."""
    logits = embeddings @ model.coef[0] + model.intercept[0]
    return np.clip(logits, -MAX_TURN_LOGIT, MAX_TURN_LOGIT)


def agent_leaning(model: Head, texts: list[str]) -> float:
    """How much these texts, taken together, read as the agent's: their mean agent log-odds,
    weighted by words (a "yes" says little about who said it) and shrunk towards 0 by a prior worth
    PRIOR_WORDS words, so that a few lines of small talk cannot look like a clear decision."""
    from .encoder import embed

    weights = np.array([len(t.split()) for t in texts], dtype=float)
    if not weights.sum():
        return 0.0
    return float(weights @ party_logits(model, embed(texts)) / (weights.sum() + PRIOR_WORDS))


def identify_agent(turns: list[Turn], party_model: Head | None = None) -> AgentDecision:
    """Pick the agent among the speaker labels in ``turns`` (cluster labels such as "0" and "1").
    Mainly from what each voice says over the whole call (the party classifier, ``party_model``,
    by default the shipped one); phrase cues, who opens and closes, and who asks more questions
    are weak cues. Confidence comes from the margin between the best and the runner-up; an
    uncertain decision says so in its evidence."""
    turns = sorted((t for t in turns if t.text.strip()), key=lambda t: t.begin_ms)
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    if len(speakers) < 2:
        return AgentDecision(speakers[0] if speakers else "", 0.0, ["only one speaker: nothing to compare"])

    score = {s: 0.0 for s in speakers}
    evidence: list[str] = []
    leanings: dict[str, float] = {}
    model = party_model or load_party_model()
    for speaker in speakers:
        own = [t.text for t in turns if t.speaker == speaker]
        leaning = agent_leaning(model, own)
        score[speaker] += PARTY_WEIGHT * leaning
        leanings[speaker] = leaning
        side = "agent's" if leaning > 0 else "customer's"
        evidence.append(f"speaker {speaker}'s words read as the {side} (party classifier: mean agent "
                        f"log-odds {leaning:+.2f} over {len(own)} turns)")
    for cues, sign in ((AGENT_CUES, 1.0), (CUSTOMER_CUES, -1.0)):
        for pattern, weight in cues:
            for speaker in speakers:
                hit = _first_match(pattern, [t for t in turns if t.speaker == speaker])
                if hit:
                    phrase, ms = hit
                    score[speaker] += sign * weight * CUE_WEIGHT
                    evidence.append(f"speaker {speaker} said '{phrase}' at {_clock(ms)}")

    first, last = turns[0].speaker, turns[-1].speaker
    score[first] += OPENER_WEIGHT
    evidence.append(f"speaker {first} opened the call")
    score[last] += CLOSER_WEIGHT
    evidence.append(f"speaker {last} closed the call")

    questions = {s: sum(t.text.count("?") for t in turns if t.speaker == s) for s in speakers}
    most = max(speakers, key=lambda s: questions[s])
    extra = questions[most] - max(q for s, q in questions.items() if s != most)
    if extra > 0:
        score[most] += min(QUESTION_WEIGHT * extra, MAX_QUESTION_SCORE)
        counts = ", ".join(f"speaker {s} {questions[s]}" for s in speakers)
        evidence.append(f"speaker {most} asked the most questions ({counts})")

    ranked = sorted(speakers, key=lambda s: score[s], reverse=True)
    margin = score[ranked[0]] - score[ranked[1]]
    decision = AgentDecision(ranked[0], round(float(np.tanh(margin / CONFIDENCE_SCALE)), 3), evidence, leanings)
    if decision.uncertain:
        evidence.append(f"low confidence ({decision.confidence:.2f}): the voices' words and cues do not clearly "
                        f"show who is the agent; speaker {ranked[0]} is taken as the agent")
    return decision


def _first_match(pattern: str, turns: list[Turn]) -> tuple[str, int] | None:
    """The first text matching ``pattern`` in these turns, with its time in ms (the matching
    word's time when the turn has words, else the turn's start)."""
    for turn in turns:
        text = _normalise(turn.text)
        match = re.search(pattern, text)
        if match:
            ms = turn.begin_ms
            words_before = len(text[: match.start()].split())
            if len(turn.words) == len(text.split()) and words_before < len(turn.words):
                ms = turn.words[words_before].begin_ms
            return match.group(0).strip(), ms
    return None


def _normalise(text: str) -> str:
    """Lower case with plain apostrophes and no punctuation other than them."""
    text = text.lower().replace("\u2019", "'")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text)).strip()


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


# ---------------------------------------------------------------------------------------------
# A mono call's words to parties


@dataclass
class MonoParties:
    turns: list[Turn]  # speaker AGENT or CUSTOMER, in time order; adjacent turns of one party not yet joined
    decision: AgentDecision
    segments: list[SpeakerSegment]  # who spoke when, by voice (decision.agent_label is one of them)


def assign_parties(samples: np.ndarray, words: list[Word], party_model: Head | None = None,
                   regions: list[tuple[int, int]] | None = None) -> MonoParties:
    """Split a mono call's transcribed ``words`` between agent and customer: diarize the 16 kHz
    ``samples`` (voice activity ``regions`` if already found) into voices, give each word its voice,
    then decide which voice is the agent. With one voice every turn is the agent's: also when two alike
    voices both clearly talk as the agent (``ONE_PARTY_LEANING``)."""
    if regions is None:
        regions = speech_regions(samples)
    segments, similarity = _voices(samples, regions=with_missed_words(regions, words))
    clustered = build_turns([(str(label), w) for label, w in with_sentence_openings(label_words(words, segments))])
    decision = identify_agent(clustered, party_model)
    if (similarity is not None and similarity > DISTINCT_VOICE_SIMILARITY and len(decision.leanings) == 2
            and min(decision.leanings.values()) >= ONE_PARTY_LEANING):
        segments = [SpeakerSegment(0, s.begin_ms, s.end_ms) for s in segments]
        clustered = build_turns([("0", w) for w in words])
        decision = AgentDecision("0", 0.0, [e for e in decision.evidence if "party classifier" in e] + [
            f"the two voices found are alike ({similarity:.2f}) and both talk as the agent: taken as one voice"])
    turns = [Turn(AGENT if t.speaker == decision.agent_label else CUSTOMER, t.begin_ms, t.end_ms, t.text, t.words)
             for t in clustered]
    return MonoParties(turns, decision, segments)


def with_missed_words(regions: list[tuple[int, int]], words: list[Word]) -> list[tuple[int, int]]:
    """Voice activity's regions (begin_ms, end_ms) with the words it missed added as regions of their
    own, so that they are judged by their own voice: a short reply silero rates just under its
    threshold (a customer's closing "No." of 280 ms found at no level) otherwise went to the nearest
    voice, the agent's question before it. Words closer than MISSED_WORDS_JOIN_MS make one region."""
    ends = [e for _, e in regions]  # regions are in order and apart
    missed: list[tuple[int, int]] = []
    for w in words:
        k = bisect.bisect_right(ends, w.begin_ms)  # the first region ending after the word begins
        if w.end_ms <= w.begin_ms or (k < len(regions) and regions[k][0] < w.end_ms):
            continue
        if missed and w.begin_ms - missed[-1][1] < MISSED_WORDS_JOIN_MS:
            missed[-1] = (missed[-1][0], max(missed[-1][1], w.end_ms))
        else:
            missed.append((w.begin_ms, w.end_ms))
    return sorted(regions + missed) if missed else regions


# ---------------------------------------------------------------------------------------------
# Evaluation: reference files and diarization error rate

Track = list[tuple[str, float, float]]  # (speaker, begin_s, end_s)


def read_rttm(path: str | Path) -> dict[str, Track]:
    """SPEAKER lines of an RTTM file as {file_id: [(speaker, begin_s, end_s)]}."""
    tracks: dict[str, Track] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            begin, duration = float(fields[3]), float(fields[4])
            tracks.setdefault(fields[1], []).append((fields[7], begin, begin + duration))
    return tracks


def read_uem(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """A UEM file (``file_id channel begin_s end_s`` per line) as {file_id: [(begin_s, end_s)]}."""
    regions: dict[str, list[tuple[float, float]]] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4:
            regions.setdefault(fields[0], []).append((float(fields[2]), float(fields[3])))
    return regions


def segments_to_track(segments: list[SpeakerSegment]) -> Track:
    return [(str(s.label), s.begin_ms / 1000, s.end_ms / 1000) for s in segments]


def party_frames(spans: list[tuple[str, int, int]], duration_ms: int) -> np.ndarray:
    """Per FRAME_MS frame: 0 where only the agent speaks in ``spans`` ((party, begin_ms, end_ms)),
    1 where only the customer does, -1 where nobody or both do."""
    active = np.zeros((2, duration_ms // FRAME_MS + 1), dtype=bool)
    for party, begin, end in spans:
        active[0 if party == AGENT else 1, begin // FRAME_MS : end // FRAME_MS] = True
    return np.where(active[0] & ~active[1], 0, np.where(active[1] & ~active[0], 1, -1))


def speech_attribution(turns: list[Turn], truth: np.ndarray) -> float:
    """Share of the speech time inside the turns' words, where exactly one party speaks in ``truth``
    (from ``party_frames``), whose word was given to that party: what the scores are computed from."""
    said = np.full(len(truth), -1)
    for turn in turns:
        for w in turn.words:
            said[w.begin_ms // FRAME_MS : w.end_ms // FRAME_MS] = 0 if turn.speaker == AGENT else 1
    spoken = (truth >= 0) & (said >= 0)
    return float(np.mean(said[spoken] == truth[spoken])) if spoken.any() else 0.0


def diarization_error_rate(reference: Track, hypothesis: Track, uem: list[tuple[float, float]] | None = None) -> float:
    """(missed speech + false alarm + speaker confusion) / reference speech, with the optimal
    speaker mapping and no collar, scored by pyannote.metrics. Overlapped speech counts once per
    speaker. ``uem`` limits scoring to those regions (default: the extent of both tracks)."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(track: Track) -> Annotation:
        a = Annotation()
        for i, (speaker, begin, end) in enumerate(track):
            if end > begin:
                a[Segment(begin, end), i] = speaker
        return a

    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    uem_timeline = Timeline([Segment(b, e) for b, e in uem]) if uem else None
    return float(metric(annotation(reference), annotation(hypothesis), uem=uem_timeline))
