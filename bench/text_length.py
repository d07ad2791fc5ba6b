"""Call length: a timed transcript whose neutral middle is said again and again, up to about two hours,
scored once per length. Prints seconds per stage, milliseconds per 1,000 words (flat when every stage
grows linearly with the call), and how far each score moved from the shortest call.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/text_length.py [--repeats 1,10,100,600]

The call is the fragmented auto-repair call of tests/test_length.py (opening, a 12 s middle of details
given and confirmed over backchannels, the booking and goodbye): 600 repeats are about two hours and
5,400 middle turns. A stage whose time per word at the longest call is more than SUPERLINEAR times its
time at the second shortest, and which takes MIN_FLAGGED_S or more there, is flagged: some work in it
grows with the square of the call (as the close's notice search once did: 84 s for 18,945 words). A stage
of a few milliseconds is not judged: its timing is mostly noise. Targets: no stage flagged, and every score within
MAX_DRIFT points of the shortest call's at 10 repeats (the suite checks 5). This is a report, not a
test: it exits 0 even when a target fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_length import FRAGMENTED_CLOSE, FRAGMENTED_MIDDLE, FRAGMENTED_OPENING, MAX_DRIFT, timed_call  # noqa: E402

SUPERLINEAR = 2.0
MIN_FLAGGED_S = 1.0
STAGES = ("characteristics", "turn_heads", "qualities")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", default="1,10,100,600")
    args = parser.parse_args()
    repeats = [int(r) for r in args.repeats.split(",")]

    from scorer.pipeline import Scorer

    scorer = Scorer()
    scorer.score_conversation(timed_call(FRAGMENTED_OPENING, FRAGMENTED_MIDDLE, FRAGMENTED_CLOSE, 1))  # loading
    rows = []
    for n in repeats:
        call = timed_call(FRAGMENTED_OPENING, FRAGMENTED_MIDDLE, FRAGMENTED_CLOSE, n)
        words = sum(len(t["text"].split()) for t in call["turns"])
        start = time.perf_counter()
        result = scorer.score_conversation(call)
        total = time.perf_counter() - start
        rows.append({"repeats": n, "minutes": call["turns"][-1]["end_ms"] / 60000, "turns": len(call["turns"]),
                     "words": words, "total_s": total, "timings": result.timings,
                     "scores": {q: s.score for q, s in result.scores.items()}, "outcome": result.outcome.status})

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print("| repeats | minutes | turns | words | " + " | ".join(f"{s} s" for s in STAGES)
          + " | ms per 1,000 words | connection | energy | satisfaction | outcome |")
    print("|---" * (8 + len(STAGES)) + "|")
    first = rows[0]["scores"]
    for r in rows:
        drift = " | ".join(f"{r['scores'][q]:.1f} ({r['scores'][q] - first[q]:+.1f})" for q in ("connection", "energy", "satisfaction"))
        print(f"| {r['repeats']} | {r['minutes']:.1f} | {r['turns']} | {r['words']} | "
              + " | ".join(f"{r['timings'].get(s, 0.0):.2f}" for s in STAGES)
              + f" | {1000 * 1000 * r['total_s'] / r['words']:.0f} | {drift} | {r['outcome']} |")
    if len(rows) >= 3:
        base, longest = rows[1], rows[-1]
        for stage in STAGES:
            per_word = [r["timings"].get(stage, 0.0) / r["words"] for r in (base, longest)]
            growth = per_word[1] / per_word[0] if per_word[0] > 0 else 0.0
            slow = longest["timings"].get(stage, 0.0) >= MIN_FLAGGED_S
            verdict = "FLAGGED: grows faster than the call" if growth > SUPERLINEAR and slow else \
                "ok" if slow or growth <= SUPERLINEAR else f"ok (under {MIN_FLAGGED_S:.0f} s: too quick to judge)"
            print(f"\n{stage}: time per word x{growth:.2f} from {base['repeats']} to {longest['repeats']} repeats: {verdict}", end="")
        print()
    ten = next((r for r in rows if r["repeats"] == 10), None)
    if ten is not None:
        worst = max(abs(ten["scores"][q] - first[q]) for q in first)
        print(f"\nlargest score move at 10 repeats: {worst:.1f} points (target under {MAX_DRIFT:.0f}): "
              + ("PASS" if worst < MAX_DRIFT else "FAIL"))


if __name__ == "__main__":
    main()
