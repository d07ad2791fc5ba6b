"""Peak memory of long calls: 8 kHz stereo calls of 3 hours and of 4 hours (the longest accepted,
HOSTSCORE_MAX_CALL_MINUTES=240) and a 58-minute 8 kHz mono call.

    .venv/bin/python bench/long_call_memory.py [--stage decode|score] [--calls stereo,stereo4h,mono] [--device auto] [--keep DIR]

Each call is a synthesised 4-minute call repeated to length (written block by block, so this
script itself stays small), then decoded (``--stage decode``) or scored whole (``--stage score``,
the default: Whisper base, the shipped default, on every minute of speech, so an hour or more on a
2-core CPU; the numbers in bench/README.md were measured with tiny.en, whose weights are about 40 MB
smaller in memory: the pipeline table) in a
fresh subprocess that prints its peak RSS. Target: under 2.5 GB for any accepted input. This is a
report, not a test: it exits 0 even when a target fails.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CALLS = {"stereo": (180.0, "3-hour stereo"), "stereo4h": (240.0, "4-hour stereo"), "mono": (58.0, "58-minute mono")}
PEAK_MB_TARGET = 2500.0


def child(stage: str, device: str, path: str) -> None:
    """Runs in the subprocess: decode or score one call, print one JSON line."""
    start = time.perf_counter()
    if stage == "decode":
        from scorer.audio import load_audio

        audio = load_audio(path)
        seconds, turns = audio.duration_ms / 1000, None
    else:
        from scorer.pipeline import Scorer

        result = Scorer(device=device).score_file(path)
        seconds, turns = result.call.duration_ms / 1000, len(result.turns)
    print(json.dumps({"audio_s": seconds, "turns": turns, "wall_s": time.perf_counter() - start,
                      # Linux reports ru_maxrss in KiB.
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6}))


def long_call(folder: Path, minutes: float, layout: str) -> Path:
    import soundfile as sf

    from scorer import synth

    piece = synth.cache_dir() / f"bench-call-4min-8k-{layout}.wav"
    if not piece.is_file():
        print(f"synthesising a 4-minute {layout} call to {piece} ...", file=sys.stderr)
        synth.make_call(synth.long_call(4), piece, sample_rate=8000, layout=layout, telephone_band=True)
    block, rate = sf.read(piece, dtype="int16", always_2d=True)
    path = folder / f"long-{minutes:g}min-{layout}.wav"
    frames = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", rate, block.shape[1], "PCM_16") as out:
        while frames > 0:
            out.write(block[:frames])
            frames -= len(block)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="score", choices=("decode", "score"))
    parser.add_argument("--calls", default=",".join(CALLS), help=f"which calls to run, of {', '.join(CALLS)}")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--keep", type=Path, help="write the long calls here and keep them (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"| call | stage | audio min | wall s | peak RSS MB | under {PEAK_MB_TARGET:g} MB |")
        print("|---|---|---|---|---|---|")
        for call in args.calls.split(","):
            minutes, name = CALLS[call]
            layout = "mono" if call == "mono" else "stereo"
            path = long_call(folder, minutes, layout)
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
            proc = subprocess.run([sys.executable, __file__, "--child", args.stage, args.device, str(path)],
                                  capture_output=True, text=True, env=env, cwd=REPO)
            if proc.returncode != 0:
                print(f"| {name} | {args.stage} | ERROR: {(proc.stderr.strip().splitlines() or ['failed'])[-1]} |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"| {name} | {args.stage} | {r['audio_s'] / 60:.1f} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} |"
                  f" {'PASS' if r['peak_mb'] < PEAK_MB_TARGET else 'FAIL'} |", flush=True)


if __name__ == "__main__":
    main()
