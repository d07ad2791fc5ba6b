"""Audio and text agree: the team's rated conversations spoken as telephone calls score as they read.

Each held-out conversation of the corpus is synthesised into a call (agent and customer in two
different voices, 8 kHz telephone band, pauses drawn like real turn-taking), stereo and mixed to
mono, and scored from the audio; the same conversation is scored as plain text. A score that moves
by more than 10 points, or an outcome that changes, between the two means that the audio path
(transcription, speakers, timing, voice) changes what the call is judged to be.
"""

import numpy as np
import pytest

from scorer import synth
from scorer.qualities import QUALITIES
from scorer.training.corpus import conversations

CONVERSATIONS_PER_OUTCOME = 5  # 20 held-out conversations spoken, for CI time on two cores
MAX_POINTS = 10.0
MIN_AGREEMENT = 0.9
# The customer is piper's joe raised 4.5 semitones: as far from the agent's voice as espeak's (voice
# embeddings 0.70 alike, espeak 0.68) and, unlike espeak, spoken clearly enough for Whisper (word
# error at 8 kHz: 0.11 against espeak's 0.45, which no caller's speech comes near).
CUSTOMER_VOICE = "joe:450"


def _script(conversation: dict, rng: np.random.Generator) -> list[synth.ScriptLine]:
    """The conversation as a call: a reply usually comes 0.3-1 s after the other party stops, now and
    then after a longer think (1.5-3 s); the agent speaks a little faster or slower from call to call."""
    pace = rng.uniform(0.9, 1.1)
    lines = []
    for turn in conversation["turns"]:
        gap = rng.uniform(1500, 3000) if rng.random() < 0.1 else rng.uniform(300, 1000)
        lines.append(synth.ScriptLine(turn["speaker"], turn["text"], gap_ms=int(gap),
                                      length_scale=pace if turn["speaker"] == "AGENT" else 1.0))
    return lines


@pytest.fixture(scope="module")
def held_out() -> list[dict]:
    """The first held-out conversations of each rated outcome, so every outcome is spoken."""
    rows = sorted((c for c in conversations() if c["test"]), key=lambda c: c["id"])
    by_outcome = {}
    for row in rows:
        by_outcome.setdefault(row["outcome"], []).append(row)
    assert set(by_outcome) == {"resolved", "deferred", "transferred", "unresolved"}
    assert all(len(group) >= CONVERSATIONS_PER_OUTCOME for group in by_outcome.values())
    return [row for group in by_outcome.values() for row in group[:CONVERSATIONS_PER_OUTCOME]]


@pytest.fixture(scope="module")
def scored(shipped_scorer, held_out, tmp_path_factory) -> list[dict]:
    """Per conversation and layout: the text scores and the audio scores."""
    root = tmp_path_factory.mktemp("agreement")
    rows = []
    for conversation in held_out:
        text = shipped_scorer.score_conversation({"id": conversation["id"], "turns": conversation["turns"]})
        script = _script(conversation, np.random.default_rng(int(conversation["id"].split("-")[-1])))
        for layout in ("stereo", "mono"):
            truth = synth.make_call(script, root / f"{conversation['id']}_{layout}.wav", sample_rate=8000,
                                    layout=layout, telephone_band=True,
                                    customer_voice=CUSTOMER_VOICE)
            audio = shipped_scorer.score_file(truth.path)
            rows.append({"id": conversation["id"], "layout": layout, "text": text, "audio": audio})
    return rows


def _score(result, quality):
    score = result.scores[quality]
    return None if score is None else score.score


# Measured 2026-12-06 with Whisper base on an Intel Xeon: stereo 19/20, mono 18/20 (c-010's written close is a
# tie, resolved 0.437 against deferred 0.435, so the text scores between the two and either call moves it
# 11-14 points; c-016's synthesised agent voice measures soft, -10 dB alpha ratio, on mono). CPUs' int8
# kernels hear a word or two differently: on an AMD EPYC (2026-12-06, the same code) stereo 18/20 and mono
# 18/20, stereo also missing c-065, whose customer's "And the bag?" Whisper hears as "And the bad?" (read
# as upset: energy 17.8 against 29.8). On an AMD EPYC with AVX-512 (2026-12-07) stereo 19/20 (c-065) and mono
# 18/20: c-010, and c-132, whose "Fees are applied if the account is overdrawn" is heard as "These are applied
# to the account as overdrawn" and read as resolved (mono was 17/20 before Whisper's timings were mended
# where speech holds no word: c-065's closing "No." and c-071's late-started answer). On an AMD EPYC without
# AVX-512 (2026-12-07, after "like I said" counted as a repeat and a customer leaving unhelped as not
# resolved) stereo 18/20 (c-010; c-065's "bad") and mono 18/20 (c-010; c-016's soft agent voice).
@pytest.mark.slow
@pytest.mark.parametrize("layout", ["stereo", "mono"])
def test_audio_scores_agree_with_text(scored, layout):
    """At least 90% of the conversations: every quality within 10 points of the text's, same outcome."""
    rows = [r for r in scored if r["layout"] == layout]
    agree = {q: 0 for q in (*QUALITIES, "outcome")}
    whole, differences = 0, []
    for r in rows:
        text, audio = r["text"], r["audio"]
        apart = []
        for q in QUALITIES:
            a, t = _score(audio, q), _score(text, q)
            if a is not None and t is not None and abs(a - t) <= MAX_POINTS:
                agree[q] += 1
            else:
                apart.append(f"{q} audio {a} text {t}")
        a, t = audio.outcome and audio.outcome.status, text.outcome and text.outcome.status
        if a == t:
            agree["outcome"] += 1
        else:
            apart.append(f"outcome audio {a} text {t}")
        whole += not apart
        if apart:
            differences.append(f"{r['id']}: " + "; ".join(apart))
    rates = ", ".join(f"{k} {v / len(rows):.0%}" for k, v in agree.items())
    report = f"{layout}: {whole}/{len(rows)} conversations agree on everything ({rates})\n" + "\n".join(differences)
    print("\n" + report)
    assert whole >= MIN_AGREEMENT * len(rows), report
