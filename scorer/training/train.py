"""`hostscore train`: rebuild every shipped turn head from scratch, deterministically, and write the model card."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from . import baseline, corpus
from .calibrate import agreement, default_profile, fit_profile
from ..encoder import embed
from ..conversation import AGENT, CUSTOMER, from_dict
from ..heads import HEADS, HEADS_PATH, Head, features, load_heads, predict, save_heads, vader_scores
from ..outcome import OUTCOME_MODEL_PATH, STATUSES, call_outcome_features
from ..qualities import PROFILE_PATH, QUALITIES, Profile
from ..speakers import PARTY_CLASSES, PARTY_MODEL_PATH, party_logits

CARD_NAME = "MODEL_CARD.md"
SEED = 0
C_GRID = (0.25, 1.0, 4.0)


@dataclass
class HeadReport:
    name: str
    train_size: int
    test_size: int
    c: float
    cv_macro_f1: float
    test_macro_f1: dict[str, float] = field(default_factory=dict)  # source -> score
    baseline_macro_f1: dict[str, float] = field(default_factory=dict)
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


def train_heads(out: Path, emorynlp_dir: Path | None = None, log=print) -> list[HeadReport]:
    start = time.time()
    np.random.seed(SEED)
    examples = corpus.utterances() + corpus.emorynlp(emorynlp_dir)
    log(f"encoding {len(examples)} utterances with MiniLM ...")
    texts = [e.text for e in examples]
    x = features(texts, [e.party for e in examples], embed(texts))
    heads, reports = {}, []
    for name in HEADS:
        rows = [i for i, e in enumerate(examples) if name in e.labels]
        train_rows = [i for i in rows if not examples[i].test]
        test_rows = [i for i in rows if examples[i].test]
        y = np.array([examples[i].labels[name] for i in rows])
        y_train = np.array([examples[i].labels[name] for i in train_rows])
        head, c, cv_f1 = fit_head(name, x[train_rows], y_train)
        heads[name] = head
        report = HeadReport(name, len(train_rows), len(test_rows), c, round(cv_f1, 3),
                            class_counts={k: int(v) for k, v in zip(*np.unique(y, return_counts=True))})
        for source in sorted({examples[i].source for i in test_rows}):
            idx = [i for i in test_rows if examples[i].source == source]
            truth = [examples[i].labels[name] for i in idx]
            probs = head.predict_proba(x[idx])
            predicted = [head.classes[k] for k in probs.argmax(axis=1)]
            report.test_macro_f1[source] = round(f1_score(truth, predicted, average="macro"), 3)
            base = baseline.predict(name, [examples[i].text for i in idx])
            report.baseline_macro_f1[source] = round(f1_score(truth, base, average="macro"), 3)
        reports.append(report)
        log(f"{name:16s} cv={report.cv_macro_f1:.3f} test={report.test_macro_f1} baseline={report.baseline_macro_f1}")
    save_heads(heads, out, meta={"seed": SEED, "examples": len(examples), "reports": [r.__dict__ for r in reports]})
    load_heads.cache_clear()
    log(f"heads written to {out} in {time.time() - start:.0f} s")
    return reports


def train_outcome(out: Path, heads: dict[str, Head], log=print) -> dict:
    """The call-level outcome classifier over the turn heads, on the corpus conversations."""
    conversations = corpus.conversations()
    x = np.array([call_outcome_features(c, predict([t.text for t in c.turns], [t.speaker for t in c.turns], heads))
                  for c in (from_dict(row) for row in conversations)])
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


def train_profile(models_dir: Path, log=print) -> tuple[Profile, dict]:
    """Fit the call-level mapping on the corpus conversations' train side; measure on the test side.
    Reads the heads and outcome model just trained into ``models_dir`` and writes the profile there."""
    from ..pipeline import Scorer

    out = models_dir / PROFILE_PATH.name
    conversations = corpus.conversations()
    scorer = Scorer(profile=default_profile(), models_dir=models_dir)
    results = [scorer.score_conversation(c) for c in conversations]
    features = [{q: r.scores[q].features for q in QUALITIES} for r in results]
    train_idx = [i for i, c in enumerate(conversations) if not c["test"]]
    test_idx = [i for i, c in enumerate(conversations) if c["test"]]
    rows = {q: [features[i][q] for i in train_idx] for q in QUALITIES}
    labels = {q: np.array([conversations[i][q] for i in train_idx], dtype=float) for q in QUALITIES}
    profile, cv_report = fit_profile(rows, labels, default_profile(), name="hostscore", version=1)

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
    (its turns' mean agent log-odds picks the agent, as ``speakers.identify_agent`` does)."""
    utterances = corpus.utterances()
    conversations = corpus.conversations()
    rows = [(e.text, e.party, e.test) for e in utterances]
    rows += [(t["text"], t["speaker"], c["test"]) for c in conversations for t in c["turns"]]
    x = embed([text for text, _, _ in rows])
    y = np.array([party for _, party, _ in rows])
    test = np.array([is_test for _, _, is_test in rows])
    head, c, cv_f1 = fit_head("party", x[~test], y[~test], classes=PARTY_CLASSES)
    predicted = np.array(head.classes)[head.predict_proba(x[test]).argmax(axis=1)]

    right = 0
    held_out = [conv for conv in conversations if conv["test"]]
    for conv in held_out:
        turns = conv["turns"]
        logits = party_logits(head, embed([t["text"] for t in turns]))
        mean = {p: logits[[t["speaker"] == p for t in turns]].mean() for p in PARTY_CLASSES}
        right += (mean[AGENT] > mean[CUSTOMER])
    report = {"train": int((~test).sum()), "test": int(test.sum()), "c": c, "cv_macro_f1": round(cv_f1, 3),
              "test_turn_accuracy": round(float(np.mean(predicted == y[test])), 3),
              "test_conversations": len(held_out),
              "test_conversation_accuracy": round(right / max(len(held_out), 1), 3)}
    save_heads({"party": head}, out, meta={"seed": SEED, "report": report})
    load_heads.cache_clear()
    log(f"party            {report}")
    return report


def train(out_dir: Path, emorynlp_dir: Path | None = None, log=print) -> None:
    """Train every model into ``out_dir`` (heads.json, outcome.json, profile.json, MODEL_CARD.md).
    ``Scorer(models_dir=out_dir)`` uses them; copy them into scorer/data to ship them."""
    start = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    heads = train_heads(out_dir / HEADS_PATH.name, emorynlp_dir, log=log)
    outcome = train_outcome(out_dir / OUTCOME_MODEL_PATH.name, load_heads(out_dir / HEADS_PATH.name), log=log)
    train_party(out_dir / PARTY_MODEL_PATH.name, log=log)
    profile, report = train_profile(out_dir, log=log)
    card = out_dir / CARD_NAME
    card.write_text(model_card(heads, outcome, report, time.time() - start))
    log(f"model card written to {card} ({time.time() - start:.0f} s in all)")


def model_card(heads: list[HeadReport], outcome: dict, report: dict, seconds: float) -> str:
    lines = [
        "# hostscore model card",
        "",
        "Written by `hostscore train` (fixed seeds; rebuilds every shipped head and the scoring profile).",
        f"Last run took {seconds:.0f} s on this machine's CPU.",
        "",
        "## Data",
        "- **hostscore contact-centre corpus** (`scorer/data/corpus/`, Apache-2.0, written by the team; see DATASHEET.md):",
        "  single utterances from both parties in 8 industries, labelled for every turn head, and whole conversations",
        "  rated 1-5 for satisfaction, connection and energy. Test = a stable hash of the id (20% of utterances, 25% of conversations).",
        "- **EmoryNLP** emotion dialogue (Apache-2.0, from shared data): Feeling-Wheel emotions mapped to sentiment",
        "  (Joyful/Peaceful/Powerful positive, Mad/Scared/Sad negative) and arousal (Joyful/Mad/Scared/Powerful high);",
        "  its own train+dev for training, its test set for testing.",
        "",
        "## Turn heads",
        "Multinomial logistic regression on the all-MiniLM-L6-v2 sentence embedding (384-d) plus VADER's four",
        "scores and a party flag; C chosen by 5-fold cross-validation. Baseline: VADER for sentiment, phrase",
        "lists for the others (`scorer/baseline.py`), on the same test split. Metric: macro-F1.",
        "",
        "| head | train | test | classes (count) | C | CV macro-F1 | test macro-F1 | baseline test macro-F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in heads:
        counts = ", ".join(f"{k} {v}" for k, v in r.class_counts.items())
        test = "; ".join(f"{s}: {v:.3f}" for s, v in r.test_macro_f1.items())
        base = "; ".join(f"{s}: {v:.3f}" for s, v in r.baseline_macro_f1.items())
        lines.append(f"| {r.name} | {r.train_size} | {r.test_size} | {counts} | {r.c} | {r.cv_macro_f1:.3f} | {test} | {base} |")
    lines += [
        "",
        "## Call outcome",
        "A multinomial logistic regression over the turn heads' outcome statements (strongest per party, overall and",
        "in the last third of the call) and how the customer closes (gratitude, sentiment), fitted on the corpus",
        "conversations. Baseline: the last outcome a keyword list finds in the call.",
        "",
        "| train | test | CV macro-F1 | test macro-F1 | test accuracy | keyword baseline test macro-F1 |",
        "|---|---|---|---|---|---|",
        f"| {outcome['train']} | {outcome['test']} | {outcome['cv_macro_f1']} | {outcome['test_macro_f1']} | "
        f"{outcome['test_accuracy']} | {outcome['keyword_baseline_test_macro_f1']} |",
        "",
        "## Call-level qualities",
        "Each quality is a sign-constrained linear model over named call features (see docs/qualities.md),",
        "fitted to the corpus conversations' 1-5 ratings on the train side by ridge regression shrunk towards the",
        "hand-set definition (worth 60 calls). Agreement: Spearman and the AUC of telling the lowest third of the",
        "rating scale from the highest third. Baseline: mean VADER compound of the conversation's turns. Features",
        "that text conversations cannot measure (pitch, loudness, pace, dead air, interruptions, latency) keep",
        "their hand-set weights: no labelled audio exists to fit them.",
        "",
        "| quality | hand-set weights (train) | cross-validated (train) | test | VADER baseline (test) |",
        "|---|---|---|---|---|",
    ]
    for q in QUALITIES:
        r = report[q]
        cell = lambda a: f"rho {a['spearman']:.3f}, AUC {a['auc_low_vs_high']}"  # noqa: E731
        lines.append(f"| {q} | {cell(r['hand_set_weights_train'])} | {cell(r['cross_validated_train'])} | {cell(r['test'])} | {cell(r['vader_baseline_test'])} |")
    lines += [
        "",
        f"Held-out conversations ending in thanks and a solution vs ones ending deferred or angry: satisfaction AUC "
        f"**{report['satisfaction_resolved_thanks_vs_deferred_or_angry_test_auc']}**.",
        "",
        "## Limits",
        "- The corpus is written, not transcribed from real calls; one labeller per item; English only.",
        "- EmoryNLP is TV dialogue, not support calls; it widens the sentiment and arousal heads' range of speech.",
        "- Acoustic energy weights are priors, not fitted: `hostscore calibrate` fits them once a centre has labels",
        "  for scored audio.",
    ]
    return "\n".join(lines) + "\n"
