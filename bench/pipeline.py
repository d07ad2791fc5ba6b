"""Whole-pipeline benchmark: each engine x model scores one synthesised telephone call.

    .venv/bin/python bench/pipeline.py [--minutes 4] [--call PATH]
        [--engines faster-whisper,openai-whisper] [--models tiny.en,base] [--device auto]

Each configuration runs in a fresh subprocess, so its peak memory and its model loading are its own.
This is a report, not a test: it exits 0 even when a target fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("audio", "transcription", "speakers", "characteristics", "turn_heads", "qualities")
# A couple of turns reach the encoder, the heads and the quality models once, so that their
# loading counts as load time and not against the first call.
WARMUP = {"turns": [{"speaker": "agent", "text": "Thank you for calling, how can I help?"},
                    {"speaker": "customer", "text": "Hi, I have a question about my bill."}]}
# Real-time factor targets for faster-whisper, per model.
RTF_TARGETS = {"tiny.en": 10.0, "base": 5.0}
SPEEDUP_TARGET = 3.0  # faster-whisper over openai-whisper on the transcription stage
PEAK_MB_TARGET = 2500.0


def child(engine: str, model: str, device: str, call: str) -> None:
    """Runs in the subprocess: load, score the call once, print one JSON line."""
    start = time.perf_counter()
    from scorer.pipeline import Scorer

    scorer = Scorer(engine=engine, model=model, device=device)
    transcriber = scorer.transcriber
    scorer.score_conversation(WARMUP)
    load_s = time.perf_counter() - start

    start = time.perf_counter()
    result = scorer.score_file(call)
    total_s = time.perf_counter() - start

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(json.dumps({
        "engine": engine, "model": model, "device": transcriber.device, "compute_type": transcriber.compute_type,
        "load_s": load_s, "total_s": total_s, "timings": result.timings, "audio_s": result.call.duration_ms / 1000,
        "turns": len(result.turns), "words": sum(len(t.words) for t in result.turns),
        # Linux reports ru_maxrss in KiB.
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, "gpu": gpu,
        # Other work on a shared machine slows a row (PyTorch's threads far more than CTranslate2's).
        "load_avg": os.getloadavg()[0],
    }))


def make_call(minutes: float) -> Path:
    from scorer import synth

    path = synth.cache_dir() / f"bench-call-{minutes:g}min-8k-stereo.wav"
    if not path.is_file():
        print(f"synthesising a {minutes:g}-minute call to {path} ...", file=sys.stderr)
        synth.make_call(synth.long_call(minutes), path, sample_rate=8000, layout="stereo", telephone_band=True)
    return path


def run_config(engine: str, model: str, device: str, call: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", engine, model, device, str(call)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        return {"engine": engine, "model": model, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def versions() -> str:
    found = []
    for package in ("torch", "ctranslate2", "faster-whisper", "openai-whisper", "onnxruntime"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} missing")
    return ", ".join(found)


def table(rows: list[dict]) -> list[str]:
    header = ["model", "engine", "device", "load s", *[f"{s} s" for s in STAGES], "total s", "x real time", "peak RSS MB", "load avg"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['engine']} | ERROR: {r['error'][0]} |")
            continue
        stages = [f"{r['timings'][s]:.2f}" if s in r["timings"] else "–" for s in STAGES]
        cells = [r["model"], r["engine"], f"{r['device']} {r['compute_type']}", f"{r['load_s']:.1f}", *stages,
                 f"{r['total_s']:.1f}", f"{r['audio_s'] / r['total_s']:.1f}x", f"{r['peak_mb']:.0f}", f"{r['load_avg']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(rows: list[dict], models: list[str]) -> list[str]:
    ok = {(r["engine"], r["model"]): r for r in rows if "error" not in r}
    lines = ["", "faster-whisper vs openai-whisper (same weights, this run):"]
    checks = []
    for model in models:
        fw, ow = ok.get(("faster-whisper", model)), ok.get(("openai-whisper", model))
        if fw and ow:
            speedup = ow["timings"]["transcription"] / fw["timings"]["transcription"]
            lines.append(f"- {model}: transcription {speedup:.1f}x faster, whole pipeline "
                         f"{ow['total_s'] / fw['total_s']:.1f}x faster")
            checks.append((f"faster-whisper >= {SPEEDUP_TARGET:g}x openai-whisper on transcription, {model}",
                           f"{speedup:.1f}x", speedup >= SPEEDUP_TARGET))
        if fw and model in RTF_TARGETS:
            rtf = fw["audio_s"] / fw["total_s"]
            checks.append((f"whole pipeline >= {RTF_TARGETS[model]:g}x real time, {model} faster-whisper",
                           f"{rtf:.1f}x", rtf >= RTF_TARGETS[model]))
    for r in ok.values():
        checks.append((f"peak RSS < {PEAK_MB_TARGET:g} MB, {r['model']} {r['engine']}",
                       f"{r['peak_mb']:.0f} MB", r["peak_mb"] < PEAK_MB_TARGET))
    for r in rows:
        if "error" in r:
            checks.append((f"{r['model']} {r['engine']} ran", "error", False))
    lines += ["", "Targets:"]
    lines += [f"- {'PASS' if passed else 'FAIL'}: {name} ({value})" for name, value, passed in checks]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--call", type=Path, help="score this recording instead of a synthesised call")
    parser.add_argument("--engines", default="faster-whisper,openai-whisper")
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    call = args.call or make_call(args.minutes)
    idle_load = os.getloadavg()[0]
    engines, models = args.engines.split(","), args.models.split(",")
    rows = []
    for model in models:
        for engine in engines:
            print(f"running {model} {engine} ...", file=sys.stderr)
            rows.append(run_config(engine, model, args.device, call))

    gpus = {r["gpu"] for r in rows if r.get("gpu")}
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average before the run {idle_load:.2f}, "
          f"GPU: {', '.join(gpus) or 'none'}; {versions()}")
    audio_s = next((r["audio_s"] for r in rows if "audio_s" in r), None)
    print(f"Call: {call} ({audio_s:.0f} s)" if audio_s else f"Call: {call}")
    print()
    print("\n".join(table(rows) + targets(rows, models)))


if __name__ == "__main__":
    main()
