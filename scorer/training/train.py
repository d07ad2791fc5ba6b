"""`hostscore train`: rebuild every shipped turn head from scratch, deterministically, and write the model card;
or, with ``heads``, rebuild only those heads over a set of models kept as they are."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from . import baseline, corpus
from .calibrate import agreement, default_profile, fit_profile, normalise
from ..encoder import embed
from ..conversation import AGENT, CUSTOMER, from_dict
from ..heads import HEADS, HEADS_PATH, Head, features, load_heads, save_heads, vader_scores
from ..outcome import CLOSE_HEADS, OUTCOME_MODEL_PATH, STATUSES, call_outcome_features, read_close
from ..qualities import PROFILE_PATH, QUALITIES, Profile, load_profile
from ..speakers import PARTY_CLASSES, PARTY_MODEL_PATH, agent_leaning

CARD_NAME = "MODEL_CARD.md"
SEED = 0
C_GRID = (0.25, 1.0, 4.0)
BOOTSTRAP_SAMPLES = 1000


@dataclass
class Comparison:
    """One test metric for the model and each trivial baseline: [value, 2.5%, 97.5%] from a bootstrap over
    whole scenarios (or conversations), the same resamples for all, so ``difference`` is a paired interval."""
    metric: str
    model: list[float]
    baselines: dict[str, list[float]]
    strongest: str  # the baseline with the best value
    difference: list[float]  # model minus the strongest baseline

    def verdict(self) -> str:
        if self.difference[1] > 0:
            return "yes"
        return "**no: worse**" if self.difference[2] < 0 else "**no: the interval includes no gain**"


@dataclass
class HeadReport:
    name: str
    train_size: int
    test_size: int
    c: float
    cv_macro_f1: float
    test: dict[str, Comparison] = field(default_factory=dict)  # source -> test macro-F1 against baselines
    test_rows: dict[str, int] = field(default_factory=dict)  # source -> test rows
    test_scenarios: dict[str, int] = field(default_factory=dict)  # source -> how many scenarios they come from
    class_counts: dict[str, int] = field(default_factory=dict)


def _classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=4000, random_state=SEED)


def fit_head(name: str, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...] | None = None) -> tuple[Head, float, float]:
    """Pick C by 5-fold cross-validated macro-F1, then fit on all training rows."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    best_c, best_f1 = C_GRID[0], -1.0
    for c in C_GRID:
        predicted = cross_val_predict(_classifier(c), x, y, cv=folds)
        score = f1_score(y, predicted, average="macro")
        if score > best_f1:
            best_c, best_f1 = c, score
    model = _classifier(best_c).fit(x, y)
    classes = classes or HEADS[name]
    # store rows in the head's class order so the first class is always "nothing"
    order = [list(model.classes_).index(c) for c in classes]
    if len(classes) == 2:
        coef = model.coef_ if list(model.classes_) == list(classes) else -model.coef_
        intercept = model.intercept_ if list(model.classes_) == list(classes) else -model.intercept_
    else:
        coef, intercept = model.coef_[order], model.intercept_[order]
    return Head(name, classes, coef.astype(np.float32), intercept.astype(np.float32)), best_c, best_f1


def train_heads(out: Path, emorynlp_dir: Path | None = None, log=print, names: tuple[str, ...] = tuple(HEADS),
                base: Path | None = None) -> list[HeadReport]:
    """Fit the turn heads ``names`` (all by default); with ``base`` (a heads.json), every other head and its
    test report come from there unchanged."""
    start = time.time()
    np.random.seed(SEED)
    heads, reports = {}, {}
    if base is not None:
        kept = [n for n in HEADS if n not in names]
        saved, loaded = json.loads(Path(base).read_text()), load_heads(Path(base))
        missing = [n for n in kept if n not in loaded]
        if missing:
            raise ValueError(f"{base} has no {', '.join(missing)} head: retrain {'it' if len(missing) == 1 else 'them'} too")
        heads = {n: loaded[n] for n in kept}
        reports = {r["name"]: head_report(r) for r in saved["meta"]["reports"] if r["name"] in kept}
    # a corpus test line that repeats an EmoryNLP training line (or back) is dropped too
    examples = corpus.drop_test_duplicates(corpus.utterances() + corpus.emorynlp(emorynlp_dir))
    examples = [e for e in examples if any(n in e.labels for n in names)]
    log(f"encoding {len(examples)} utterances with MiniLM ...")
    texts = [e.text for e in examples]
    x = features(texts, [e.party for e in examples], embed(texts))
    for name in names:
        rows = [i for i, e in enumerate(examples) if name in e.labels]
        train_rows = [i for i in rows if not examples[i].test]
        test_rows = [i for i in rows if examples[i].test]
        y = np.array([examples[i].labels[name] for i in rows])
        y_train = np.array([examples[i].labels[name] for i in train_rows])
        head, c, cv_f1 = fit_head(name, x[train_rows], y_train)
        heads[name] = head
        report = HeadReport(name, len(train_rows), len(test_rows), c, round(cv_f1, 3),
                            class_counts={k: int(v) for k, v in zip(*np.unique(y, return_counts=True))})
        majority = Counter(y_train).most_common(1)[0][0]
        for source in sorted({examples[i].source for i in test_rows}):
            idx = [i for i in test_rows if examples[i].source == source]
            predicted = [head.classes[k] for k in head.predict_proba(x[idx]).argmax(axis=1)]
            scenarios = [examples[i].scenario for i in idx]
            report.test[source] = compare("macro-F1", macro_f1, [examples[i].labels[name] for i in idx], predicted, {
                "majority class": [majority] * len(idx),
                "VADER" if name == "sentiment" else "keywords": baseline.predict(name, [examples[i].text for i in idx]),
            }, resamples(scenarios))
            report.test_rows[source], report.test_scenarios[source] = len(idx), len(set(scenarios))
        reports[name] = report
        log(f"{name:16s} cv={report.cv_macro_f1:.3f} " + "; ".join(
            f"{s}: test {t.model} vs {t.strongest} {t.baselines[t.strongest]}" for s, t in report.test.items()))
    heads = {n: heads[n] for n in HEADS}
    reports = [reports[n] for n in HEADS]
    save_heads(heads, out, meta={"seed": SEED, "reports": [asdict(r) for r in reports]})
    load_heads.cache_clear()
    log(f"heads written to {out} in {time.time() - start:.0f} s")
    return reports


def head_report(saved: dict) -> HeadReport:
    """A HeadReport as ``train_heads`` saves it in heads.json's meta."""
    return HeadReport(**{**saved, "test": {source: Comparison(**t) for source, t in saved["test"].items()}})


def train_outcome(out: Path, heads: dict[str, Head], log=print) -> dict:
    """The call-level outcome classifier over the close of each corpus conversation read by the turn heads."""
    conversations = corpus.conversations()
    x = np.array([call_outcome_features(*read_close(from_dict(row), heads)) for row in conversations])
    y = np.array([c["outcome"] for c in conversations])
    train_rows = np.array([not c["test"] for c in conversations])
    head, c, cv_f1 = fit_head("call_outcome", x[train_rows], y[train_rows], classes=STATUSES)
    predicted = [head.classes[k] for k in head.predict_proba(x[~train_rows]).argmax(axis=1)]
    keywords = [_keyword_outcome(row) for row, test in zip(conversations, ~train_rows) if test]
    report = {"train": int(train_rows.sum()), "test": int((~train_rows).sum()), "c": c, "cv_macro_f1": round(cv_f1, 3),
              "test_macro_f1": round(f1_score(y[~train_rows], predicted, average="macro"), 3),
              "test_accuracy": round(float(np.mean(np.array(predicted) == y[~train_rows])), 3),
              "keyword_baseline_test_macro_f1": round(f1_score(y[~train_rows], keywords, average="macro"), 3)}
    save_heads({"call_outcome": head}, out, meta={"seed": SEED, "report": report})
    load_heads.cache_clear()
    log(f"call outcome     {report}")
    return report


def _keyword_outcome(conversation: dict) -> str:
    """Baseline: the last outcome a keyword list finds in the call, else unresolved."""
    found = [label for label in baseline.predict("outcome", [t["text"] for t in conversation["turns"]]) if label != "none"]
    return {"resolved": "resolved", "deferred": "deferred", "transfer": "transferred"}[found[-1]] if found else "unresolved"


def train_profile(models_dir: Path, log=print, qualities: tuple[str, ...] = QUALITIES,
                  kept: Profile | None = None) -> tuple[Profile, dict]:
    """Fit the call-level mapping on the corpus conversations' train side; measure on the test side.
    Reads the heads and outcome model just trained into ``models_dir`` and writes the profile there.
    Only ``qualities`` are fitted: the others' models, and their train-side numbers, come from ``kept``."""
    from ..pipeline import Scorer

    out = models_dir / PROFILE_PATH.name
    conversations = corpus.conversations()
    scorer = Scorer(profile=default_profile(), models_dir=models_dir)
    results = [scorer.score_conversation(c) for c in conversations]
    features = [{q: r.scores[q].features for q in QUALITIES} for r in results]
    train_idx = [i for i, c in enumerate(conversations) if not c["test"]]
    test_idx = [i for i, c in enumerate(conversations) if c["test"]]
    rows = {q: [features[i][q] for i in train_idx] for q in qualities}
    labels = {q: np.array([conversations[i][q] for i in train_idx], dtype=float) for q in qualities}
    prior = default_profile()
    cv_report = {}
    for q in set(QUALITIES) - set(qualities):
        prior.models[q] = kept.models[q]
        saved = kept.metrics["agreement"][q]
        cv_report[q] = {"after_cross_validated": saved["cross_validated_train"], "before": saved["hand_set_weights_train"]}
    profile, fitted = fit_profile(rows, labels, prior, name="hostscore", version=1)
    cv_report.update(fitted)

    lexicon = [float(vader_scores([t["text"] for t in c["turns"]])[:, 3].mean()) for c in conversations]
    report = {}
    for q in QUALITIES:
        truth = [conversations[i][q] for i in test_idx]
        report[q] = {
            "cross_validated_train": cv_report[q]["after_cross_validated"],
            "hand_set_weights_train": cv_report[q]["before"],
            "test": agreement([profile.models[q].score(features[i][q]) for i in test_idx], truth),
            "vader_baseline_test": agreement([lexicon[i] for i in test_idx], truth),
        }
    good = [i for i in test_idx if conversations[i]["outcome"] == "resolved" and conversations[i]["ending"] == "thanks"]
    bad = [i for i in test_idx if conversations[i]["outcome"] == "deferred" or conversations[i]["ending"] == "angry"]
    sat = {i: profile.models["satisfaction"].score(features[i]["satisfaction"]) for i in good + bad}
    report["satisfaction_resolved_thanks_vs_deferred_or_angry_test_auc"] = _auc([sat[i] for i in good], [sat[i] for i in bad])
    profile.metrics = {"conversations": {"train": len(train_idx), "test": len(test_idx)}, "agreement": report}
    profile.save(out)
    log(f"profile written to {out}")
    return profile, report


def _auc(high: list[float], low: list[float]) -> float | None:
    if not high or not low:
        return None
    wins = sum((h > l) + 0.5 * (h == l) for h in high for l in low)
    return round(wins / (len(high) * len(low)), 3)


def train_party(out: Path, log=print) -> dict:
    """The party classifier (agent or customer from what a turn says) that decides who is the agent
    on a mono call: a logistic regression on the turn embedding, fitted on the corpus utterances and
    conversation turns of the train side. Reported on the test side per turn and per conversation
    (each side's word-weighted mean agent log-odds picks the agent, as ``speakers.identify_agent`` does)."""
    utterances = corpus.utterances()
    conversations = corpus.conversations()
    rows = [(e.text, e.party, e.test) for e in utterances]
    rows += [(t["text"], t["speaker"], c["test"]) for c in conversations for t in c["turns"]]
    x = embed([text for text, _, _ in rows])
    y = np.array([party for _, party, _ in rows])
    test = np.array([is_test for _, _, is_test in rows])
    head, c, cv_f1 = fit_head("party", x[~test], y[~test], classes=PARTY_CLASSES)
    predicted = np.array(head.classes)[head.predict_proba(x[test]).argmax(axis=1)]

    held_out = [conv for conv in conversations if conv["test"]]
    right = sum(agent_leaning(head, [t["text"] for t in conv["turns"] if t["speaker"] == AGENT])
                > agent_leaning(head, [t["text"] for t in conv["turns"] if t["speaker"] == CUSTOMER]) for conv in held_out)
    report = {"train": int((~test).sum()), "test": int(test.sum()), "c": c, "cv_macro_f1": round(cv_f1, 3),
              "test_turn_accuracy": round(float(np.mean(predicted == y[test])), 3),
              "test_conversations": len(held_out),
              "test_conversation_accuracy": round(right / max(len(held_out), 1), 3)}
    save_heads({"party": head}, out, meta={"seed": SEED, "report": report})
    load_heads.cache_clear()
    log(f"party            {report}")
    return report


def refits_call_outcome(heads: tuple[str, ...]) -> bool:
    """Whether retraining ``heads`` refits the call-outcome model: it reads the close through CLOSE_HEADS."""
    return bool(set(heads) & set(CLOSE_HEADS))


def train(out_dir: Path, emorynlp_dir: Path | None = None, log=print, heads: tuple[str, ...] | None = None,
          base_dir: Path = HEADS_PATH.parent, qualities: tuple[str, ...] = QUALITIES) -> None:
    """Train every model into ``out_dir`` (heads.json, outcome.json, profile.json, MODEL_CARD.md).
    ``Scorer(models_dir=out_dir)`` uses them; copy them into scorer/data to ship them.

    With ``heads``, only those turn heads are trained: the other heads and the party classifier are
    copied from ``base_dir`` (the shipped models by default), so that a new head or new lines for one
    head do not move what the others decide, and so is the call-outcome model unless it reads one of
    them (``CLOSE_HEADS``): then it is refitted on their new readings. The profile's ``qualities`` are
    refitted over them all, the others kept from ``base_dir``'s profile."""
    start = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if heads:
        reports = train_heads(out_dir / HEADS_PATH.name, emorynlp_dir, log=log, names=heads, base=base_dir / HEADS_PATH.name)
        shutil.copy(base_dir / PARTY_MODEL_PATH.name, out_dir / PARTY_MODEL_PATH.name)
        if refits_call_outcome(heads):
            outcome = train_outcome(out_dir / OUTCOME_MODEL_PATH.name, load_heads(out_dir / HEADS_PATH.name), log=log)
        else:
            shutil.copy(base_dir / OUTCOME_MODEL_PATH.name, out_dir / OUTCOME_MODEL_PATH.name)
            outcome = json.loads((out_dir / OUTCOME_MODEL_PATH.name).read_text())["meta"]["report"]
    else:
        reports = train_heads(out_dir / HEADS_PATH.name, emorynlp_dir, log=log)
        outcome = train_outcome(out_dir / OUTCOME_MODEL_PATH.name, load_heads(out_dir / HEADS_PATH.name), log=log)
        train_party(out_dir / PARTY_MODEL_PATH.name, log=log)
    # only the qualities kept need to match the code: the refitted ones may gain a feature
    kept_qualities = tuple(q for q in QUALITIES if q not in qualities)
    kept = load_profile(base_dir / PROFILE_PATH.name, kept_qualities) if kept_qualities else None
    profile, report = train_profile(out_dir, log=log, qualities=qualities, kept=kept)
    evaluation = evaluate_conversations(out_dir, log=log)
    card = out_dir / CARD_NAME
    card.write_text(model_card(reports, outcome, report, evaluation, corpus_summary(), time.time() - start,
                               retrained=heads, refitted=qualities))
    log(f"model card written to {card} ({time.time() - start:.0f} s in all)")


def resamples(groups: list[str], samples: int = BOOTSTRAP_SAMPLES) -> list[np.ndarray]:
    """Row indices of each bootstrap resample of whole groups (a scenario's lines, a conversation), fixed seed:
    rows of one scenario are not independent, so they are drawn together."""
    names = sorted(set(groups))
    members = [np.flatnonzero(np.asarray(groups) == g) for g in names]
    rng = np.random.default_rng(SEED)
    return [np.concatenate([members[k] for k in rng.integers(len(names), size=len(names))]) for _ in range(samples)]


def compare(metric: str, measure, truth, model, baselines: dict[str, list], draws: list[np.ndarray]) -> Comparison:
    """``measure(truth, predicted)`` for the model and every baseline on the test rows and on each resample."""
    truth = np.asarray(truth)
    predictions = {"model": np.asarray(model), **{name: np.asarray(p) for name, p in baselines.items()}}
    value = {name: measure(truth, p) for name, p in predictions.items()}
    spread = {name: np.array([measure(truth[i], p[i]) for i in draws]) for name, p in predictions.items()}
    strongest = max(baselines, key=lambda name: value[name])

    def interval(point: float, sample: np.ndarray) -> list[float]:
        low, high = np.nanpercentile(sample, [2.5, 97.5])
        return [round(float(point), 3), round(float(low), 3), round(float(high), 3)]

    return Comparison(metric, interval(value["model"], spread["model"]),
                      {name: interval(value[name], spread[name]) for name in baselines}, strongest,
                      interval(value["model"] - value[strongest], spread["model"] - spread[strongest]))


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over the classes in either (as sklearn's ``f1_score(average="macro")``), vectorised for the bootstrap."""
    classes = np.union1d(truth, predicted)
    t, p = truth[:, None] == classes, predicted[:, None] == classes
    tp, fp, fn = (t & p).sum(axis=0), (~t & p).sum(axis=0), (t & ~p).sum(axis=0)
    return float(np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1)))


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(truth == predicted))


def spearman(ratings: np.ndarray, scores: np.ndarray) -> float:
    if len(set(ratings)) < 2 or len(set(scores)) < 2:
        return float("nan")
    return float(spearmanr(scores, ratings).statistic)


def auc_low_vs_high(normalised: np.ndarray, scores: np.ndarray) -> float:
    """AUC of telling ratings in the top third of the scale (normalised >= 2/3) from the bottom third (<= 1/3)."""
    low, high = normalised <= 1 / 3, normalised >= 2 / 3
    if not low.any() or not high.any():
        return float("nan")
    ranks = rankdata(scores[low | high])
    is_high = high[low | high]
    n_high, n_low = is_high.sum(), (~is_high).sum()
    return float((ranks[is_high].sum() - n_high * (n_high + 1) / 2) / (n_high * n_low))


def evaluate_conversations(models_dir: Path, log=print) -> dict:
    """What hostscore reports for the held-out corpus conversations (as ``score-transcript`` would, with the
    models in ``models_dir``) against trivial baselines, with bootstrap intervals over conversations."""
    from ..pipeline import Scorer

    conversations = corpus.conversations()
    held_out = [c for c in conversations if c["test"]]
    scorer = Scorer(models_dir=models_dir)
    results = [scorer.score_conversation(c) for c in held_out]
    draws = resamples([c["scenario"] for c in held_out])
    majority = Counter(c["outcome"] for c in conversations if not c["test"]).most_common(1)[0][0]
    truth = [c["outcome"] for c in held_out]
    status = [r.outcome.status for r in results]
    rules = {"majority class": [majority] * len(held_out), "keyword rules": [_keyword_outcome(c) for c in held_out]}
    report = {"conversations": len(held_out), "scenarios": len({c["scenario"] for c in held_out}),
              "outcome": [compare("macro-F1", macro_f1, truth, status, rules, draws),
                          compare("accuracy", accuracy, truth, status, rules, draws)],
              "qualities": {}}
    trivial = {"customer thanked at the close": [baseline.thanked_at_close(c["turns"]) for c in held_out],
               "mean VADER": [baseline.mean_vader(c["turns"]) for c in held_out]}
    for q in QUALITIES:
        ratings = np.array([c[q] for c in held_out], dtype=float)
        scores = [r.scores[q].score for r in results]
        report["qualities"][q] = [compare("Spearman", spearman, ratings, scores, trivial, draws),
                                  compare("AUC low vs high third", auc_low_vs_high, normalise(ratings), scores, trivial, draws)]
    # satisfaction telling calls solved and thanked for from deferred or angry ones
    good = [c["outcome"] == "resolved" and c["ending"] == "thanks" for c in held_out]
    pair = [i for i, c in enumerate(held_out) if good[i] or c["outcome"] == "deferred" or c["ending"] == "angry"]
    report["satisfaction_solved_vs_deferred_or_angry"] = compare(
        "AUC", auc_low_vs_high, [float(good[i]) for i in pair], [results[i].scores["satisfaction"].score for i in pair],
        {name: [values[i] for i in pair] for name, values in trivial.items()}, resamples([held_out[i]["scenario"] for i in pair]))
    log(f"held-out conversations: outcome macro-F1 {report['outcome'][0].model}, "
        f"satisfaction Spearman {report['qualities']['satisfaction'][0].model}")
    return report


def corpus_summary() -> dict:
    """How many corpus rows and scenarios each side holds, and how many test rows were dropped as repeats."""
    rows = corpus.read_rows(sorted(corpus.CORPUS_DIR.glob("utterances_*.jsonl")), corpus.utterance_problems)
    kept = corpus.utterances()
    talks = corpus.read_rows(sorted(corpus.CORPUS_DIR.glob("conversations*.jsonl")), corpus.conversation_problems)
    held = corpus.conversations()
    return {
        "utterances": len(kept), "utterance_scenarios": len({e.scenario for e in kept}),
        "test_utterances": sum(e.test for e in kept), "test_utterance_scenarios": len({e.scenario for e in kept if e.test}),
        "dropped_utterances": len(rows) - len(kept),
        "conversations": len(held), "test_conversations": sum(c["test"] for c in held),
        "dropped_conversations": len(talks) - len(held),
    }


def _cell(values: list[float]) -> str:
    value, low, high = values
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def model_card(heads: list[HeadReport], outcome: dict, report: dict, evaluation: dict, data: dict, seconds: float,
               retrained: tuple[str, ...] | None = None, refitted: tuple[str, ...] = QUALITIES) -> str:
    """MODEL_CARD.md: every test number with its 95% interval, next to the strongest trivial baseline."""
    if retrained:
        command = f"hostscore train --heads {' '.join(retrained)}"
        if set(refitted) != set(QUALITIES):
            command += f" --qualities {' '.join(refitted)}"
        kept = [q for q in QUALITIES if q not in refitted]
        close = refits_call_outcome(retrained)
        written = [f"Written by `{command}` (fixed seeds): the {', '.join(retrained)} "
                   f"{'head was' if len(retrained) == 1 else 'heads were'} trained on the corpus below"
                   + (", the call-outcome model refitted on what the retrained heads read in the close" if close else "")
                   + f" and the scoring profile's {', '.join(refitted)} refitted; "
                   + ("every other head and the party classifier" if close else
                      "every other head, the call-outcome model and the party classifier")
                   + (f" and the profile's {', '.join(kept)}" if kept else "") +
                   " were kept from the previous training, with their train-side and turn-head test numbers from then (on the "
                   "corpus as it was then). The held-out conversations' numbers are measured now, on the corpus below."]
    else:
        written = ["Written by `hostscore train` (fixed seeds; rebuilds every shipped head and the scoring profile)."]
    lines = [
        "# hostscore model card",
        "",
        *written,
        f"Last run took {seconds:.0f} s on this machine's CPU.",
        "",
        "## Data",
        "- **hostscore contact-centre corpus** (`scorer/data/corpus/`, Apache-2.0, written by the team; see DATASHEET.md):",
        f"  {data['utterances']} single utterances from both parties in {data['utterance_scenarios']} scenarios, labelled for every",
        f"  turn head, and {data['conversations']} whole conversations rated 1-5 for satisfaction, connection and energy.",
        "  **Split by scenario**, not by line: a stable hash of the scenario puts all its rows on one side (25% of",
        f"  scenarios): {data['test_utterances']} test utterances from {data['test_utterance_scenarios']} scenarios, "
        f"{data['test_conversations']} test conversations.",
        "  A test row whose words repeat a training row's (token Jaccard >= 0.8, identical text included) is dropped:",
        f"  {data['dropped_utterances']} utterances and {data['dropped_conversations']} conversations.",
        "- **EmoryNLP** emotion dialogue (Apache-2.0, from shared data): Feeling-Wheel emotions mapped to sentiment",
        "  (Joyful/Peaceful/Powerful positive, Mad/Scared/Sad negative) and arousal (Joyful/Mad/Scared/Powerful high);",
        "  its own train+dev for training, its test set (scenes as scenarios) for testing, repeats of training lines dropped.",
        "",
        "## How to read the numbers",
        f"Every test number is *value [95% interval]*: {BOOTSTRAP_SAMPLES} bootstrap resamples of whole test scenarios",
        f"(a scenario's lines, a scene, a conversation; seed {SEED}). Each model is compared with trivial baselines on",
        "the same resamples; it **beats** the strongest of them only when the 95% interval of the paired difference",
        "(model minus that baseline) lies above zero. Where it does not, the last column says so.",
        "",
        "## Turn heads",
        "Multinomial logistic regression on the all-MiniLM-L6-v2 sentence embedding (384-d) plus VADER's four",
        "scores and a party flag; C chosen by 5-fold cross-validation on the training side. Baselines: the",
        "training side's majority class, and VADER for sentiment or phrase lists for the others",
        "(`scorer/training/baseline.py`). Metric: macro-F1.",
        "",
        "| head | test set | train rows | test rows (scenarios) | CV macro-F1 | model | majority class | VADER or keywords | beats the strongest baseline? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in heads:
        for source, t in r.test.items():
            lexicon = next(name for name in t.baselines if name != "majority class")
            lines.append(f"| {r.name} | {source} | {r.train_size} | {r.test_rows[source]} ({r.test_scenarios[source]}) | "
                         f"{r.cv_macro_f1:.3f} | {_cell(t.model)} | {_cell(t.baselines['majority class'])} | "
                         f"{_cell(t.baselines[lexicon])} | {t.verdict()} |")
    lines += [
        "",
        "## Call outcome",
        "A multinomial logistic regression over the turn heads' outcome statements (in the close as a whole and in",
        "the agent's own words), how the close felt and how the customer leaves (mood, thanks, effort),",
        f"fitted on {outcome['train']} training conversations (cross-validated macro-F1 {outcome['cv_macro_f1']}). Below: the",
        f"outcome hostscore reports (`score-transcript`) for the {evaluation['conversations']} held-out conversations.",
        "Baselines: the training side's majority outcome, and the last outcome a keyword list finds in the call.",
        "",
        "| metric | hostscore | majority class | keyword rules | beats the strongest baseline? |",
        "|---|---|---|---|---|",
    ]
    for t in evaluation["outcome"]:
        lines.append(f"| {t.metric} | {_cell(t.model)} | {_cell(t.baselines['majority class'])} | "
                     f"{_cell(t.baselines['keyword rules'])} | {t.verdict()} |")
    lines += [
        "",
        "## Call-level qualities",
        "Each quality is a sign-constrained linear model over named call features (see docs/qualities.md),",
        "fitted to the corpus conversations' 1-5 ratings on the train side by ridge regression shrunk towards the",
        "hand-set definition (worth 60 calls). Features that text conversations cannot measure (pitch, loudness,",
        "pace, dead air, interruptions, latency) keep their hand-set weights: no labelled audio exists to fit them.",
        "Agreement with the ratings: Spearman, and the AUC of telling the lowest third of the rating scale from the",
        "highest third. Train side (cross-validated, no interval):",
        "",
        "| quality | hand-set weights (train) | fitted, cross-validated (train) |",
        "|---|---|---|",
    ]
    for q in QUALITIES:
        cell = lambda a: f"rho {a['spearman']:.3f}, AUC {a['auc_low_vs_high']}"  # noqa: E731
        lines.append(f"| {q} | {cell(report[q]['hand_set_weights_train'])} | {cell(report[q]['cross_validated_train'])} |")
    lines += [
        "",
        f"Test side: the scores hostscore reports for the {evaluation['conversations']} held-out conversations. Baselines:",
        "whether the customer said \"thank\" in the last three turns (1 or 0), and the mean VADER compound of the turns.",
        "",
        "| quality | metric | hostscore | customer thanked at the close | mean VADER | beats the strongest baseline? |",
        "|---|---|---|---|---|---|",
    ]
    for q in QUALITIES:
        for t in evaluation["qualities"][q]:
            lines.append(f"| {q} | {t.metric} | {_cell(t.model)} | {_cell(t.baselines['customer thanked at the close'])} | "
                         f"{_cell(t.baselines['mean VADER'])} | {t.verdict()} |")
    solved = evaluation["satisfaction_solved_vs_deferred_or_angry"]
    lines += [
        "",
        "Held-out conversations solved and ending in thanks against ones deferred or ending angry, satisfaction AUC:",
        f"hostscore {_cell(solved.model)}, customer thanked at the close {_cell(solved.baselines['customer thanked at the close'])},",
        f"mean VADER {_cell(solved.baselines['mean VADER'])}; beats the strongest baseline: {solved.verdict()}.",
        "",
        "## Where the models do not beat a trivial baseline",
    ]
    misses = [f"- turn head **{r.name}** on {source}: macro-F1 {_cell(t.model)} against {t.strongest} {_cell(t.baselines[t.strongest])}"
              for r in heads for source, t in r.test.items() if t.verdict() != "yes"]
    misses += [f"- call outcome {t.metric}: {_cell(t.model)} against {t.strongest} {_cell(t.baselines[t.strongest])}"
               for t in evaluation["outcome"] if t.verdict() != "yes"]
    misses += [f"- **{q}** {t.metric}: {_cell(t.model)} against {t.strongest} {_cell(t.baselines[t.strongest])}"
               for q in QUALITIES for t in evaluation["qualities"][q] if t.verdict() != "yes"]
    if solved.verdict() != "yes":
        misses.append(f"- satisfaction, solved-and-thanked vs deferred-or-angry AUC: {_cell(solved.model)} against "
                      f"{solved.strongest} {_cell(solved.baselines[solved.strongest])}")
    lines += misses or ["- none: every model beats its strongest baseline on every test metric."]
    lines += [
        "",
        "## Limits",
        "- The corpus is written, not transcribed from real calls; one labeller per item; English only.",
        "- The test conversations are few, so the intervals are wide; a model that does not beat a baseline here",
        "  may still be better, and one that does may not generalise to real calls.",
        "- EmoryNLP is TV dialogue, not support calls; it widens the sentiment and arousal heads' range of speech.",
        "- Acoustic energy weights are priors, not fitted: `hostscore calibrate` fits them once a centre has labels",
        "  for scored audio.",
    ]
    return "\n".join(lines) + "\n"
