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
from .encoder import embed
from .heads import HEADS, HEADS_PATH, Head, features, save_heads

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


def fit_head(name: str, x: np.ndarray, y: np.ndarray) -> tuple[Head, float, float]:
    """Pick C by 5-fold cross-validated macro-F1, then fit on all training rows."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    best_c, best_f1 = C_GRID[0], -1.0
    for c in C_GRID:
        predicted = cross_val_predict(_classifier(c), x, y, cv=folds)
        score = f1_score(y, predicted, average="macro")
        if score > best_f1:
            best_c, best_f1 = c, score
    model = _classifier(best_c).fit(x, y)
    classes = HEADS[name]
    # store rows in the head's class order so the first class is always "nothing"
    order = [list(model.classes_).index(c) for c in classes]
    if len(classes) == 2:
        coef = model.coef_ if list(model.classes_) == list(classes) else -model.coef_
        intercept = model.intercept_ if list(model.classes_) == list(classes) else -model.intercept_
    else:
        coef, intercept = model.coef_[order], model.intercept_[order]
    return Head(name, classes, coef.astype(np.float32), intercept.astype(np.float32)), best_c, best_f1


def train(emorynlp_dir: Path | None = None, out: Path = HEADS_PATH, card: Path | None = None, log=print) -> list[HeadReport]:
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
    log(f"heads written to {out} in {time.time() - start:.0f} s")
    return reports
