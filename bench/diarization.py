"""Mono calls: how much speech time ends up with the right party (agent or customer).

    .venv/bin/python bench/diarization.py [--only NAME,...] [--model tiny.en]

Each call is mixed to mono, transcribed, diarized and split into parties the way the pipeline does
(``speakers.assign_parties``), then compared with the truth: the synthesised calls' line times, and
the two channels of the real stereo call (each channel's voice activity). Columns:

- voices: voices diarization found; agent: whether the voice taken as the agent is the agent;
- separation: share of single-party speech frames whose voice matches the truth under the best
  mapping of voices to parties (diarization alone, whoever is the agent);
- frames: share of single-party speech frames given the right party (diarization and agent choice);
- words: share of single-party speech time inside transcribed words whose word went to the right
  party (what the scores are computed from): the target is at least 0.95.

Transcripts are cached per audio (``HOSTSCORE_CACHE``, default ~/.cache/hostscore), so reruns only
pay for diarization. This is a report: it exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scorer import synth  # noqa: E402
from scorer.audio import load_audio  # noqa: E402
from scorer.conversation import AGENT, CUSTOMER, Word  # noqa: E402
from scorer.speakers import FRAME_MS, assign_parties, party_frames, speech_attribution  # noqa: E402
from scorer.vad import speech_regions  # noqa: E402

SHARED = Path(os.environ.get("HOSTSCORE_SHARED_DATA") or REPO.parent / "shared" / "data")
REAL_CALL = SHARED / "calls" / "aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav"
TARGET = 0.95


def pitched(script: list[synth.ScriptLine], speaker: str, cents: int, length_scale: float) -> list[synth.ScriptLine]:
    """``speaker``'s lines shifted in pitch and tempo: one synthetic voice made into another."""
    return [dataclasses.replace(line, pitch_cents=line.pitch_cents + cents, length_scale=line.length_scale * length_scale)
            if line.speaker == speaker else line for line in script]


# name -> (script, agent voice, customer voice): 8 kHz telephone band, mono
SYNTH_CALLS = {
    "5 min, agent first, joe / espeak f3": (synth.long_call(5), "joe", "espeak:en-us+f3"),
    "5 min, customer first, joe / espeak m3": (synth.long_call(5, customer_first=True), "joe", "espeak:en-us+m3"),
    "6 min, customer first, espeak f2 / joe": (synth.long_call(6, customer_first=True), "espeak:en-us+f2", "joe"),
    "5 min, agent first, joe / joe +4 st slower": (pitched(synth.long_call(5), CUSTOMER, 400, 1.1), "joe", "joe"),
    "booking, customer first, joe / espeak f3": (synth.BOOKING_CALL, "joe", "espeak:en-us+f3"),
    "booking, customer first, espeak m3 / espeak f4": (synth.BOOKING_CALL, "espeak:en-us+m3", "espeak:en-us+f4"),
}


def synth_call(script, agent_voice, customer_voice, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Mono 16 kHz samples of the call made at 8 kHz, and the true party per frame."""
    truth = synth.make_call(script, folder / "call.wav", sample_rate=8000, layout="mono", agent_voice=agent_voice,
                            customer_voice=customer_voice, telephone_band=True)
    spans = [(line.speaker, line.begin_ms, line.end_ms) for line in truth.lines]
    return load_audio(truth.path).mono(), party_frames(spans, truth.duration_ms)


def real_call() -> tuple[np.ndarray, np.ndarray]:
    """The real stereo call mixed to mono; truth from each channel's voice activity (agent left)."""
    audio = load_audio(REAL_CALL)
    agent, customer = audio.channel(0), audio.channel(1)
    spans = [(party, b, e) for party, side in ((AGENT, agent), (CUSTOMER, customer)) for b, e in speech_regions(side)]
    return (agent + customer) / 2, party_frames(spans, audio.duration_ms)


def cached_words(samples: np.ndarray, model: str) -> list[Word]:
    cache = Path(os.environ.get("HOSTSCORE_CACHE") or Path.home() / ".cache" / "hostscore") / "bench-words"
    key = hashlib.sha1(samples.astype(np.float32).tobytes() + model.encode()).hexdigest()[:24]
    path = cache / f"{key}.json"
    if path.exists():
        return [Word(**w) for w in json.loads(path.read_text())]
    from scorer.transcribe import load_transcriber

    words = load_transcriber("faster-whisper", model, "cpu").transcribe(samples).words
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([dataclasses.asdict(w) for w in words]))
    return words


def measure(samples: np.ndarray, truth: np.ndarray, model: str) -> dict:
    words = cached_words(samples, model)
    start = time.perf_counter()
    parties = assign_parties(samples, words)
    seconds = time.perf_counter() - start
    n = len(truth)
    # diarization alone: frames labelled by voice, then by party through the agent decision
    voice = np.full(n, -1)
    for segment in parties.segments:
        voice[segment.begin_ms // FRAME_MS : segment.end_ms // FRAME_MS] = segment.label
    both = (truth >= 0) & (voice >= 0)
    same = float(np.mean(voice[both] == truth[both])) if both.any() else 0.0
    agent_voice = int(parties.decision.agent_label) if parties.decision.agent_label.isdigit() else 0
    party = np.where(voice < 0, -1, np.where(voice == agent_voice, 0, 1))
    agent_is_agent = bool(np.mean(party[both] == truth[both]) > 0.5) if both.any() else False

    return {"minutes": n * FRAME_MS / 60000, "voices": len({s.label for s in parties.segments}), "agent": agent_is_agent,
            "confidence": parties.decision.confidence, "separation": max(same, 1 - same),
            "frames": float(np.mean(party[both] == truth[both])) if both.any() else 0.0,
            "words": speech_attribution(parties.turns, truth), "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated substrings of call names to run")
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    names = list(SYNTH_CALLS) + (["real call 40 (AWS LCA auto repairs), stereo mixed to mono"] if REAL_CALL.exists() else [])
    if args.only:
        names = [n for n in names if any(part in n for part in args.only.split(","))]

    print("| call | minutes | voices | agent right | confidence | separation | frames | words | diarize+assign s |")
    print("|---|---|---|---|---|---|---|---|---|")
    worst = 1.0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            samples, truth = real_call() if name.startswith("real") else synth_call(*SYNTH_CALLS[name], Path(tmp))
        r = measure(samples, truth, args.model)
        worst = min(worst, r["words"])
        print(f"| {name} | {r['minutes']:.1f} | {r['voices']} | {'yes' if r['agent'] else 'NO'} | {r['confidence']:.2f} | "
              f"{r['separation']:.3f} | {r['frames']:.3f} | {r['words']:.3f} | {r['seconds']:.1f} |", flush=True)
    print(f"\nworst words share {worst:.3f} (target {TARGET}): {'PASS' if worst >= TARGET else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
