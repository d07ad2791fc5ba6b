"""Text throughput: turns per second scoring corpus dialogues one by one vs batched
(``Scorer.score_conversations``), model loading excluded and included.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/text_throughput.py [--dialogues 200] [--batch 64]

Each way runs in a fresh subprocess, so its model loading is its own. Prints a Markdown table and
how far the ways' scores differ. A third way scores batched with the encoder's Linear layers
quantised to int8 (torch dynamic quantisation), and a fourth with HOSTSCORE_ENCODER_PRECISION=bfloat16
(autocast; native on CPUs with AVX512-BF16 or AMX), to say whether each is faster and whether its scores stay within
TOLERANCE_POINTS of the float encoder's (the default stays float unless they do).
This is a report, not a test: it exits 0 even when the target fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_TURNS_PER_S = 600.0  # model loading included, issue 8
TOLERANCE_POINTS = 1.0  # an int8 encoder is acceptable if every score is this close and every outcome the same
WAYS = ("one by one", "batched", "batched, int8 encoder", "batched, bf16 encoder")


def child(way: str, dialogues: int, batch: int) -> None:
    """Runs in the subprocess: load, score, print one JSON line."""
    start = time.perf_counter()
    from scorer.pipeline import Scorer
    from scorer.training.corpus import conversations

    data = conversations()[:dialogues]
    if way == "batched, int8 encoder":
        import torch

        from scorer.encoder import load_encoder

        # the instance embed() uses: load_encoder is cached by its arguments as embed passes them
        torch.ao.quantization.quantize_dynamic(load_encoder("auto"), {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    scorer = Scorer()
    scorer.score_conversation(data[0])  # the encoder, VADER and the heads load on first use
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    if way.startswith("batched"):
        results = scorer.score_conversations(data, batch_size=batch)
    else:
        results = [scorer.score_conversation(c) for c in data]
    score_s = time.perf_counter() - start
    print(json.dumps({
        "way": way, "dialogues": len(data), "turns": sum(len(c["turns"]) for c in data), "load_s": load_s,
        "score_s": score_s, "load_avg": os.getloadavg()[0],
        "results": [{"outcome": r.outcome.status, "scores": {q: s.score for q, s in r.scores.items()}} for r in results],
    }))


def run(way: str, dialogues: int, batch: int) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
           "HOSTSCORE_ENCODER_PRECISION": "bfloat16" if way == "batched, bf16 encoder" else "float32"}
    cmd = [sys.executable, __file__, "--child", way, "--dialogues", str(dialogues), "--batch", str(batch)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{way} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64, help="conversations scored together")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dialogues, args.batch)
        return

    idle = os.getloadavg()[0]
    rows = [run(way, args.dialogues, args.batch) for way in WAYS]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average before the run {idle:.2f}; "
          f"{rows[0]['dialogues']} corpus dialogues, {rows[0]['turns']} turns; batch {args.batch}")
    print()
    print("| way | load s | score s | turns/s, loading excluded | turns/s, loading included | load avg after |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['way']} | {r['load_s']:.1f} | {r['score_s']:.1f} | {r['turns'] / r['score_s']:.0f} | "
              f"{r['turns'] / (r['load_s'] + r['score_s']):.0f} | {r['load_avg']:.1f} |")
    one, batched, int8, bf16 = rows
    print()
    worst, same = differences(one, batched)
    print(f"Batched vs one by one: largest score difference {worst:.2f} points, same outcome on {same}/{len(one['results'])}")
    for name, low in (("int8", int8), ("bf16", bf16)):
        worst, same = differences(batched, low)
        within = worst <= TOLERANCE_POINTS and same == len(batched["results"])
        print(f"{name} encoder vs float, batched: largest score difference {worst:.2f} points, same outcome on "
              f"{same}/{len(batched['results'])}: {'within' if within else 'NOT within'} the tolerance "
              f"({TOLERANCE_POINTS:g} points, every outcome)")
    rate = batched["turns"] / (batched["load_s"] + batched["score_s"])
    print(f"- {'PASS' if rate >= TARGET_TURNS_PER_S else 'FAIL'}: batched >= {TARGET_TURNS_PER_S:g} turns/s, "
          f"loading included ({rate:.0f})")


def differences(a: dict, b: dict) -> tuple[float, int]:
    """The largest score difference between two ways' results, and on how many the outcome is the same."""
    scores = [(x["scores"][q], y["scores"][q]) for x, y in zip(a["results"], b["results"]) for q in x["scores"]]
    worst = max((abs(p - q) for p, q in scores if p is not None and q is not None), default=0.0)
    return worst, sum(x["outcome"] == y["outcome"] for x, y in zip(a["results"], b["results"]))


if __name__ == "__main__":
    main()
