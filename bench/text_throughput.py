"""Text throughput: turns per second scoring corpus dialogues one by one vs batched
(``Scorer.score_conversations``), model loading excluded and included.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/text_throughput.py [--dialogues 200] [--batch 64]

Each way runs in a fresh subprocess, so its model loading is its own. Prints a Markdown table and
how far the two ways' scores differ. This is a report, not a test: it exits 0 even when the
target fails.
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


def child(way: str, dialogues: int, batch: int) -> None:
    """Runs in the subprocess: load, score, print one JSON line."""
    start = time.perf_counter()
    from scorer.pipeline import Scorer
    from scorer.training.corpus import conversations

    data = conversations()[:dialogues]
    scorer = Scorer()
    scorer.score_conversation(data[0])  # the encoder, VADER and the heads load on first use
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    if way == "batched":
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
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
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
    rows = [run(way, args.dialogues, args.batch) for way in ("one by one", "batched")]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average before the run {idle:.2f}; "
          f"{rows[0]['dialogues']} corpus dialogues, {rows[0]['turns']} turns; batch {args.batch}")
    print()
    print("| way | load s | score s | turns/s, loading excluded | turns/s, loading included | load avg after |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['way']} | {r['load_s']:.1f} | {r['score_s']:.1f} | {r['turns'] / r['score_s']:.0f} | "
              f"{r['turns'] / (r['load_s'] + r['score_s']):.0f} | {r['load_avg']:.1f} |")
    one, batched = rows
    worst = max(abs(a["scores"][q] - b["scores"][q]) for a, b in zip(one["results"], batched["results"]) for q in a["scores"])
    same = sum(a["outcome"] == b["outcome"] for a, b in zip(one["results"], batched["results"]))
    rate = batched["turns"] / (batched["load_s"] + batched["score_s"])
    print()
    print(f"Batched vs one by one: largest score difference {worst:.2f} points, same outcome on {same}/{len(one['results'])}")
    print(f"- {'PASS' if rate >= TARGET_TURNS_PER_S else 'FAIL'}: batched >= {TARGET_TURNS_PER_S:g} turns/s, "
          f"loading included ({rate:.0f})")


if __name__ == "__main__":
    main()
