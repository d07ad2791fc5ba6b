"""Calibrating to a centre's own labels, evaluating, and the shipped training being reproducible."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from scorer.training import corpus
from scorer.training.calibrate import agreement
from scorer.training.train import fit_head


@pytest.fixture(scope="module")
def scored_corpus(tmp_path_factory, scorer):
    """Every corpus conversation scored as a centre would with score-transcript, plus its labels."""
    folder = tmp_path_factory.mktemp("centre")
    conversations = corpus.conversations()
    results = folder / "results.jsonl"
    with results.open("w") as f:
        for c in conversations:
            f.write(json.dumps(scorer.score_conversation(c, call_id=c["id"]).to_dict()) + "\n")
    return folder, conversations, results


def write_labels(path, rows, columns):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", *columns])
        writer.writerows(rows)


def hostscore(*args):
    out = subprocess.run([sys.executable, "-m", "scorer.cli", *map(str, args)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_evaluate_reports_agreement_per_quality(scored_corpus):
    folder, conversations, results = scored_corpus
    labels = folder / "ratings.csv"
    write_labels(labels, [(c["id"], c["satisfaction"], c["connection"], c["energy"]) for c in conversations],
                 ["satisfaction", "connection", "energy"])
    report = json.loads(hostscore("evaluate", labels, "--results", results))
    for quality in ("satisfaction", "connection", "energy"):
        assert report[quality]["n"] == len(conversations) and report[quality]["missing"] == 0
        assert report[quality]["spearman"] > 0.5 and report[quality]["auc_low_vs_high"] > 0.8


def test_calibration_learns_what_a_centre_cares_about(scored_corpus, tmp_path):
    """A centre whose customers rate calls almost only on effort: calibration should find that."""
    folder, conversations, results = scored_corpus
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    rng = np.random.default_rng(0)
    effort = np.array([r["scores"]["satisfaction"]["features"]["customer_effort"] for r in rows])
    csat = np.clip(np.round(5 - 4 * effort + rng.normal(0, 0.3, len(rows))), 1, 5)
    labels = tmp_path / "csat.csv"
    write_labels(labels, [(r["id"], int(v)) for r, v in zip(rows, csat)], ["label"])
    profile = tmp_path / "profiles" / "centre.json"

    report = json.loads(hostscore("calibrate", labels, "--results", results, "--out", profile))
    before = report["agreement"]["satisfaction"]["before"]["spearman"]
    after = report["agreement"]["satisfaction"]["after_cross_validated"]["spearman"]
    print(f"effort-driven centre: spearman before {before:.3f}, after (cross-validated) {after:.3f}")
    assert after > before + 0.1 and after > 0.7
    saved = json.loads(profile.read_text())
    assert saved["version"] == 1 and saved["metrics"]["based_on"].startswith("hostscore")
    weights = saved["models"]["satisfaction"]["weights"]
    assert abs(weights["customer_effort"]) == max(abs(w) for w in weights.values())

    # calibrating again gives the next version; scoring with the profile uses it
    assert json.loads(hostscore("calibrate", labels, "--results", results, "--out", profile))["version"] == 2
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({k: conversations[0][k] for k in ("id", "turns")}))
    default = json.loads(hostscore("score-transcript", chat))
    centre = json.loads(hostscore("score-transcript", chat, "--profile", profile))
    assert centre["models"]["profile"] == "centre v2"
    assert centre["scores"]["satisfaction"]["score"] != default["scores"]["satisfaction"]["score"]


def test_calibration_refuses_too_few_labels(scored_corpus, tmp_path):
    folder, conversations, results = scored_corpus
    labels = tmp_path / "few.csv"
    write_labels(labels, [(c["id"], c["satisfaction"]) for c in conversations[:5]], ["label"])
    out = subprocess.run([sys.executable, "-m", "scorer.cli", "calibrate", labels, "--results", results, "--out",
                          tmp_path / "p.json"], capture_output=True, text=True)
    assert out.returncode == 2 and "at least 20" in out.stderr


def test_agreement_measures():
    assert agreement([1, 2, 3, 4], [1, 2, 3, 5]) == {"n": 4, "spearman": 1.0, "auc_low_vs_high": 1.0}
    assert agreement([4, 3, 2, 1], [1, 2, 3, 5])["auc_low_vs_high"] == 0.0


def test_head_training_is_deterministic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 6))
    y = np.where(x[:, 0] + 0.5 * rng.normal(size=120) > 0, "1", "0")
    first, c1, f1 = fit_head("gratitude", x, y)
    second, c2, f2 = fit_head("gratitude", x, y)
    assert (c1, f1) == (c2, f2)
    np.testing.assert_array_equal(first.coef, second.coef)
    assert f1 > 0.7  # the signal is learnable
