"""The training corpus and how the models are evaluated: split by scenario, no repeats across the split,
valid labels, and a model card with intervals and trivial baselines."""

import hashlib
import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import f1_score

import scorer
from scorer.heads import HEADS, asks_question
from scorer.outcome import STATUSES
from scorer.training import baseline, corpus
from scorer.training.calibrate import agreement, normalise
from scorer.training.train import (HeadReport, auc_low_vs_high, compare, macro_f1, model_card, resamples,
                                   spearman, train)


def raw_rows(pattern: str) -> list[tuple[str, dict]]:
    return [(path.name, json.loads(line)) for path in sorted(corpus.CORPUS_DIR.glob(pattern))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- the data itself -----------------------------------------------------------------------------


def test_every_utterance_row_has_every_field_with_a_valid_label():
    rows = raw_rows("utterances_*.jsonl")
    assert len(rows) > 3000 and {name for name, _ in rows} >= {"utterances_a.jsonl", "utterances_b.jsonl", "utterances_c.jsonl"}
    ids = [row["id"] for _, row in rows]
    assert len(ids) == len(set(ids))
    for name, row in rows:
        assert row["party"] in ("AGENT", "CUSTOMER"), (name, row["id"])
        assert row["text"].strip() and row["scenario"].strip() and row["industry"].strip(), (name, row["id"])
        # arousal is labelled on EmoryNLP only; exploring is derived from empathy on agent questions
        for head in corpus.CORPUS_HEADS:
            assert str(row[head]) in HEADS[head], (name, row["id"], head, row[head])
    assert set(corpus.CORPUS_HEADS) == set(HEADS) - {"arousal", "exploring"}


def test_the_exploring_head_learns_from_agent_questions_only():
    """Its label is the line's empathy, on the agent's questions: "What happened?" explores, "And your
    postcode?" does not; a statement or a customer's question is not its business."""
    examples = corpus.utterances()
    exploring = [e for e in examples if "exploring" in e.labels]
    assert len(exploring) > 300 and sum(e.labels["exploring"] == "1" for e in exploring) > 70
    assert all(e.party == "AGENT" and asks_question(e.text) and e.labels["exploring"] == e.labels["empathy"] for e in exploring)
    assert not any("exploring" in e.labels for e in examples if e.party == "CUSTOMER" or not asks_question(e.text))


def test_every_conversation_row_has_every_field_with_a_valid_label():
    rows = raw_rows("conversations*.jsonl")
    assert len(rows) >= 180
    for name, row in rows:
        assert row["scenario"].strip() and row["industry"].strip(), (name, row["id"])
        assert row["outcome"] in STATUSES and row["ending"] in ("thanks", "neutral", "angry"), (name, row["id"])
        assert all(row[q] in (1, 2, 3, 4, 5) for q in ("satisfaction", "connection", "energy")), (name, row["id"])
        assert len(row["turns"]) >= 2 and all(t["speaker"] in ("AGENT", "CUSTOMER") and t["text"].strip() for t in row["turns"])


def test_scenarios_are_runs_of_consecutive_lines_not_single_lines():
    """The written files hold short scenarios of consecutive lines: each is one scenario, never split up."""
    rows = [row for name, row in raw_rows("utterances_*.jsonl") if name in ("utterances_a.jsonl", "utterances_b.jsonl")]
    runs = [len(list(lines)) for _, lines in itertools.groupby(rows, key=lambda row: row["scenario"])]
    assert len(runs) == len({row["scenario"] for row in rows})  # a scenario's lines are contiguous
    assert np.median(runs) >= 8


def test_no_scenario_sits_on_both_sides_of_the_split():
    utterances, conversations = corpus.utterances(), corpus.conversations()
    side = {}
    for scenario, test in [(e.scenario, e.test) for e in utterances] + [(c["scenario"], c["test"]) for c in conversations]:
        assert side.setdefault(scenario, test) == test, scenario
    # the side follows a stable hash of the scenario, about a quarter of them in test
    for scenario, test in side.items():
        assert test == (int.from_bytes(hashlib.sha1(scenario.encode()).digest()[:4], "big") / 2**32 < 0.25)
    assert 0.15 < np.mean(list(side.values())) < 0.35
    assert 0.15 < np.mean([e.test for e in utterances]) < 0.35 and 0.15 < np.mean([c["test"] for c in conversations]) < 0.35


def test_no_exact_or_near_duplicate_across_the_split():
    """No test row shares 80% or more of its words (as a set, case and punctuation aside) with a training row."""
    for items in ([(e.text, e.test) for e in corpus.utterances()],
                  [(" ".join(t["text"] for t in c["turns"]), c["test"]) for c in corpus.conversations()]):
        words = CountVectorizer(binary=True, token_pattern=r"[a-z0-9']+").fit_transform([text for text, _ in items])
        test = np.array([is_test for _, is_test in items])
        assert test.any() and not test.all()
        shared = (words[test] @ words[~test].T).toarray()
        sizes = np.asarray(words.sum(axis=1)).ravel()
        jaccard = shared / (sizes[test][:, None] + sizes[~test][None, :] - shared)
        worst = np.unravel_index(jaccard.argmax(), jaccard.shape)
        assert jaccard.max() < 0.8, ([t for t, is_test in items if is_test][worst[0]], [t for t, is_test in items if not is_test][worst[1]])


def test_no_test_utterance_means_the_same_as_a_training_one():
    """The same check by meaning: no test line has a MiniLM cosine of 0.95 or more with a training line."""
    from scorer.encoder import embed

    utterances = corpus.utterances()
    vectors = embed([e.text for e in utterances])
    test = np.array([e.test for e in utterances])
    closest = (vectors[test] @ vectors[~test].T).max(axis=1)
    print(f"closest training line to a test line: cosine {closest.max():.3f}")
    assert closest.max() < 0.95


def test_test_side_repeats_are_dropped_and_training_rows_kept():
    texts = ["Okay.", "okay", "thanks so much for sorting that out today", "thanks so much for sorting that today",
             "my router keeps dropping", "the bill is wrong again"]
    test = [False, True, False, True, True, False]
    assert corpus.repeats_training(texts, test).tolist() == [False, True, False, True, False, False]
    # a repeat within one side is no leak
    assert not corpus.repeats_training(["Okay.", "okay"], [True, True]).any()
    assert not corpus.repeats_training(["Okay.", "okay"], [False, False]).any()


def test_every_corpus_file_is_loaded_and_split_by_its_scenarios(tmp_path):
    def utterance(i, scenario, text):
        return {"id": f"x-{i}", "industry": "retail", "scenario": scenario, "party": "CUSTOMER", "text": text,
                **{h: HEADS[h][0] for h in corpus.CORPUS_HEADS}}

    texts = iter(f"line number {i} about topic {i * 7}" for i in range(1000))
    rows = [utterance(i, f"scenario-{i // 4}", next(texts)) for i in range(200)]
    (tmp_path / "utterances_a.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:100]))
    (tmp_path / "utterances_new.jsonl").write_text("\n".join(json.dumps(r) for r in rows[100:]))
    examples = corpus.utterances(tmp_path)
    assert {e.id for e in examples} == {r["id"] for r in rows}
    for e in examples:
        assert e.test == corpus.in_test(e.scenario)
    assert 0 < sum(e.test for e in examples) < len(examples)


@pytest.mark.parametrize("change, message", [
    ({"sentiment": "happy"}, "sentiment 'happy'"),
    ({"party": "BOT"}, "party 'BOT'"),
    ({"scenario": None}, "missing scenario"),
])
def test_a_bad_row_stops_loading_with_its_place(tmp_path, change, message):
    good = {"id": "x-1", "industry": "retail", "scenario": "s", "party": "AGENT", "text": "hello",
            **{h: HEADS[h][0] for h in corpus.CORPUS_HEADS}}
    bad = {**good, "id": "x-2", **change}
    bad = {k: v for k, v in bad.items() if v is not None}
    (tmp_path / "utterances_x.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=rf"utterances_x.jsonl:2: .*{re.escape(message)}"):
        corpus.utterances(tmp_path)


# --- evaluation ----------------------------------------------------------------------------------


def test_macro_f1_and_auc_match_their_reference_definitions():
    rng = np.random.default_rng(0)
    truth = rng.choice(["none", "resolved", "deferred"], 300)
    predicted = np.where(rng.random(300) < 0.6, truth, rng.choice(["none", "resolved", "deferred", "transfer"], 300))
    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-9)
    ratings = rng.integers(1, 6, 120).astype(float)
    scores = ratings + rng.normal(0, 1.5, 120)
    reference = agreement(scores, ratings)
    assert auc_low_vs_high(normalise(ratings), scores) == pytest.approx(reference["auc_low_vs_high"], abs=1e-3)
    assert spearman(ratings, scores) == pytest.approx(reference["spearman"], abs=1e-3)


def test_bootstrap_draws_whole_scenarios_with_a_fixed_seed():
    groups = [f"s{i // 5}" for i in range(100)]
    draws = resamples(groups, samples=50)
    assert all(len(d) == 100 for d in draws)  # 20 scenarios of 5 drawn 20 times
    for d in draws:
        drawn = [groups[i] for i in d]
        assert all(drawn.count(g) % 5 == 0 for g in set(drawn))
    assert all(np.array_equal(a, b) for a, b in zip(draws, resamples(groups, samples=50)))


def test_comparison_says_plainly_whether_the_model_beats_the_strongest_baseline():
    rng = np.random.default_rng(1)
    truth = rng.choice(["0", "1"], 400)
    groups = [f"s{i // 4}" for i in range(400)]
    draws = resamples(groups, samples=200)
    noisy = np.where(rng.random(400) < 0.7, truth, np.where(truth == "0", "1", "0"))
    majority = ["0"] * 400
    better = compare("macro-F1", macro_f1, truth, truth, {"majority class": majority, "keywords": noisy}, draws)
    assert better.strongest == "keywords" and better.verdict() == "yes"
    assert better.model[1] <= better.model[0] <= better.model[2]
    assert better.baselines["keywords"][1] < better.baselines["keywords"][0] < better.baselines["keywords"][2]
    same = compare("macro-F1", macro_f1, truth, noisy, {"majority class": majority, "keywords": noisy}, draws)
    assert same.difference == [0.0, 0.0, 0.0] and same.verdict().startswith("**no")
    worse = compare("macro-F1", macro_f1, truth, majority, {"majority class": majority, "keywords": noisy}, draws)
    assert worse.verdict() == "**no: worse**"


def test_satisfaction_baseline_is_the_customers_thanks_in_the_last_three_turns():
    def turns(*lines):
        return [{"speaker": speaker, "text": text} for speaker, text in lines]

    assert baseline.thanked_at_close(turns(("AGENT", "Done."), ("CUSTOMER", "Oh thank you!"), ("AGENT", "Bye."))) == 1.0
    assert baseline.thanked_at_close(turns(("CUSTOMER", "Thanks."), ("AGENT", "So."), ("CUSTOMER", "Hm."), ("AGENT", "Bye."))) == 0.0
    assert baseline.thanked_at_close(turns(("CUSTOMER", "Fine."), ("AGENT", "Thank you for calling."))) == 0.0


def test_model_card_reports_intervals_baselines_and_where_the_model_falls_short():
    rng = np.random.default_rng(2)
    truth = rng.choice(["0", "1"], 200)
    draws = resamples([f"s{i // 4}" for i in range(200)], samples=100)
    noisy = np.where(rng.random(200) < 0.8, truth, "0")
    strong = compare("macro-F1", macro_f1, truth, truth, {"majority class": ["0"] * 200, "keywords": noisy}, draws)
    weak = compare("macro-F1", macro_f1, truth, noisy, {"majority class": ["0"] * 200, "keywords": noisy}, draws)
    heads = [HeadReport("gratitude", 800, 200, 1.0, 0.9, test={"hostscore-corpus": strong},
                        test_rows={"hostscore-corpus": 200}, test_scenarios={"hostscore-corpus": 50}),
             HeadReport("dismissive", 800, 200, 1.0, 0.7, test={"hostscore-corpus": weak},
                        test_rows={"hostscore-corpus": 200}, test_scenarios={"hostscore-corpus": 50})]
    ratings = rng.integers(1, 6, 200).astype(float)
    thanks, vader = (ratings >= 4).astype(float), ratings + rng.normal(0, 3, 200)
    quality = [compare(name, measure, target, ratings + rng.normal(0, 1, 200), {"customer thanked at the close": thanks,
                                                                                 "mean VADER": vader}, draws)
               for name, measure, target in (("Spearman", spearman, ratings), ("AUC low vs high third", auc_low_vs_high, normalise(ratings)))]
    outcome_truth = rng.choice(list(STATUSES), 200)
    rules = {"majority class": ["resolved"] * 200, "keyword rules": rng.choice(list(STATUSES), 200)}
    evaluation = {"conversations": 200, "scenarios": 50,
                  "outcome": [compare("macro-F1", macro_f1, outcome_truth, outcome_truth, rules, draws)],
                  "qualities": {q: quality for q in ("connection", "energy", "satisfaction")},
                  "satisfaction_solved_vs_deferred_or_angry": quality[1]}
    train_side = {"spearman": 0.8, "auc_low_vs_high": 0.95}
    report = {q: {"hand_set_weights_train": train_side, "cross_validated_train": train_side} for q in ("connection", "energy", "satisfaction")}
    data = dict(utterances=3000, utterance_scenarios=250, test_utterances=700, test_utterance_scenarios=60,
                dropped_utterances=20, conversations=200, test_conversations=50, dropped_conversations=0)
    card = model_card(heads, {"train": 150, "cv_macro_f1": 0.7}, report, evaluation, data, 120)

    assert "95% interval" in card and "bootstrap" in card
    gratitude = next(line for line in card.splitlines() if line.startswith("| gratitude"))
    assert re.search(r"1\.000 \[1\.000, 1\.000\]", gratitude) and "majority class" not in gratitude and gratitude.endswith("| yes |")
    dismissive = next(line for line in card.splitlines() if line.startswith("| dismissive"))
    assert dismissive.endswith("| **no: the interval includes no gain** |")
    cells = re.findall(r"(\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]", card)
    assert len(cells) >= 20 and all(float(low) <= float(value) <= float(high) for value, low, high in cells)
    for name in ("majority class", "keyword rules", "customer thanked at the close", "mean VADER", "VADER or keywords"):
        assert name in card
    shortfalls = card.split("## Where the models do not beat a trivial baseline")[1].split("## Limits")[0]
    assert "**dismissive**" in shortfalls and "gratitude" not in shortfalls


@pytest.mark.slow
def test_training_writes_only_into_its_folder_and_its_card_has_intervals_and_baselines(shared_data, tmp_path):
    """A full `hostscore train` (minutes): the package's own models and corpus are left alone."""
    package = Path(scorer.__file__).parent / "data"
    before = {path: path.stat().st_mtime_ns for path in package.rglob("*")}
    out = tmp_path / "models"
    train(out, shared_data / "text" / "emorynlp", log=lambda *_: None)
    assert {path: path.stat().st_mtime_ns for path in package.rglob("*")} == before
    assert {"heads.json", "outcome.json", "profile.json", "MODEL_CARD.md"} <= {path.name for path in out.iterdir()}
    card = (out / "MODEL_CARD.md").read_text()
    rows = [line for line in card.splitlines() if line.startswith("| ") and not line.startswith("| head")
            and not line.startswith("| metric") and not line.startswith("| quality")]
    tested = [line for line in rows if "[" in line]
    assert len(tested) >= 10 + 2 + 6  # every head, the outcome's two metrics, two per quality
    assert all(line.rstrip(" |").endswith(("yes", "**no: worse**", "**no: the interval includes no gain**")) for line in tested)
    assert "customer thanked at the close" in card and "majority class" in card


@pytest.mark.slow
def test_training_the_outcome_head_refits_the_call_outcome_model_that_reads_it(shared_data, tmp_path):
    """`hostscore train --heads outcome --qualities satisfaction`: the call-outcome model reads the close
    through the outcome head, so it is refitted on the new head's readings over today's corpus, never kept
    from the base (a stale one here) to read a head it was not trained on; the other heads and the party
    classifier are the base's, bit for bit."""
    shipped = Path(scorer.__file__).parent / "data"
    base = tmp_path / "base"
    shutil.copytree(shipped, base, ignore=shutil.ignore_patterns("corpus"))
    stale = json.loads((base / "outcome.json").read_text())
    stale["meta"]["report"]["test"] = -1
    (base / "outcome.json").write_text(json.dumps(stale))
    out = tmp_path / "models"
    train(out, shared_data / "text" / "emorynlp", log=lambda *_: None, heads=("outcome",), base_dir=base,
          qualities=("satisfaction",))
    trained, kept = (json.loads((d / "heads.json").read_text())["heads"] for d in (out, base))
    assert all(trained[h] == kept[h] for h in HEADS if h != "outcome")
    assert (out / "party.json").read_bytes() == (base / "party.json").read_bytes()
    report = json.loads((out / "outcome.json").read_text())["meta"]["report"]
    assert report["test"] == sum(c["test"] for c in corpus.conversations())
    assert report["test_macro_f1"] > report["keyword_baseline_test_macro_f1"] + 0.15
    assert "the call-outcome model refitted on what the retrained heads read in the close" in (out / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_training_one_head_keeps_every_other_model_and_quality(shared_data, tmp_path):
    """`hostscore train --heads exploring --qualities connection`: the exploring head is trained anew and
    connection refitted over it; every other head, the outcome and party models and the other qualities
    are the base's, bit for bit, and the card says which part is which."""
    base = Path(scorer.__file__).parent / "data"
    out = tmp_path / "models"
    train(out, shared_data / "text" / "emorynlp", log=lambda *_: None, heads=("exploring",), base_dir=base,
          qualities=("connection",))
    trained, shipped = (json.loads((d / "heads.json").read_text())["heads"] for d in (out, base))
    assert list(trained) == list(HEADS)
    assert all(trained[h] == shipped[h] for h in HEADS if h != "exploring")
    for name in ("outcome.json", "party.json"):
        assert (out / name).read_bytes() == (base / name).read_bytes()
    profile, kept = (json.loads((d / "profile.json").read_text())["models"] for d in (out, base))
    assert profile["energy"] == kept["energy"] and profile["satisfaction"] == kept["satisfaction"]
    assert profile["connection"]["weights"]["exploring"] > 0  # asking about the customer raises connection
    card = (out / "MODEL_CARD.md").read_text()
    assert "`hostscore train --heads exploring --qualities connection`" in card
    assert next(line for line in card.splitlines() if line.startswith("| exploring")).endswith("| yes |")
