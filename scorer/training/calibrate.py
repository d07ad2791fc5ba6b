"""Fitting the call-level mapping: the shipped profile (by ``hostscore train``) and a centre's own
(by ``hostscore calibrate`` on its survey or QA labels), and the agreement figures for both.

A profile's weights are fitted with sign constraints: each feature may only move its quality in
the direction its definition says (empathy can only raise connection), so a small or noisy label
set can shrink a feature towards zero but never turn it into its opposite.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from ..qualities import QUALITIES, Profile, QualityModel

SEED = 0
PRIOR_CALLS = 60  # how many labelled calls the hand-set definition is worth when fitting
# name: (weight, centre, scale). The sign is the definition; the size is the prior.
DEFAULTS: dict[str, dict[str, tuple[float, float, float]]] = {
    "connection": {
        "acknowledgement": (0.9, 0.25, 0.2), "builds_on_customer": (0.3, 0.35, 0.1),
        "personalisation": (0.4, 0.15, 0.1), "politeness": (0.5, 0.3, 0.25),
        "dismissiveness": (-0.8, 0.25, 0.25), "agent_interruptions": (-0.6, 0.5, 1.0),
        "response_latency": (-0.4, 1.0, 1.0), "talk_imbalance": (-0.3, 0.15, 0.1),
    },
    "energy": {
        "agent_pitch_variation": (0.6, 2.0, 1.0), "agent_loudness_dynamics": (0.3, 3.0, 2.0),
        "agent_loudness": (0.3, -26.0, 6.0), "agent_pace_off_band": (-0.4, 10.0, 20.0), "proactive_language": (0.6, 0.2, 0.15),
        "positive_language": (0.4, 0.2, 0.15), "dead_air": (-0.7, 0.05, 0.1),
        "customer_energy_trend": (0.5, 0.0, 0.5),
    },
    "satisfaction": {
        "customer_sentiment": (0.9, 0.0, 0.4), "worst_moment": (0.3, -0.5, 0.4),
        "closing_gratitude": (0.6, 0.4, 0.35), "outcome": (0.9, 0.0, 0.8), "customer_effort": (-0.6, 0.3, 0.3),
    },
}


def default_profile() -> Profile:
    models = {q: QualityModel(0.0, {n: w for n, (w, _, _) in spec.items()}, {n: c for n, (_, c, _) in spec.items()},
                              {n: s for n, (_, _, s) in spec.items()}) for q, spec in DEFAULTS.items()}
    return Profile("default", 1, models)


def normalise(labels: np.ndarray) -> np.ndarray:
    """Any rating scale (CSAT 1-5, NPS 0-10, QA 0-100) to 0..1 over its observed range."""
    low, high = float(np.min(labels)), float(np.max(labels))
    return (labels - low) / (high - low) if high > low else np.full(len(labels), 0.5)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.08, 0.92)
    return np.log(p / (1 - p))


def fit_quality(rows: list[dict], targets: np.ndarray, base: QualityModel) -> QualityModel:
    """Fit one quality's weights to ``targets`` (0..1) from feature ``rows`` (name -> value).

    Ridge regression shrunk towards ``base``'s weights rather than towards zero (PRIOR_CALLS
    pseudo-calls' worth), so a few hundred labels refine the definition instead of replacing it."""
    # Features measured on too few of the labelled calls (audio measures, when the labels are on
    # text conversations) keep their weights from ``base``.
    names = [n for n in base.weights if sum(r.get(n) is not None for r in rows) >= 0.5 * len(rows)]
    centres, scales = dict(base.centres), dict(base.scales)
    for n in names:
        values = np.array([r[n] for r in rows if r.get(n) is not None], dtype=float)
        centres[n] = float(values.mean())
        scales[n] = float(values.std()) or 1.0
    signs = np.array([np.sign(base.weights[n]) or 1.0 for n in names])
    z = np.array([[0.0 if r.get(n) is None else (r[n] - centres[n]) / scales[n] for n in names] for r in rows]) * signs
    y = _logit(targets)
    prior = np.abs([base.weights[n] for n in names])
    # ridge towards the prior = least squares on the data plus sqrt(k) * (w - prior) rows
    k = np.sqrt(PRIOR_CALLS)
    x_all = np.vstack([z - z.mean(axis=0), k * np.eye(len(names))])
    y_all = np.concatenate([y - y.mean(), k * prior])
    fitted = LinearRegression(positive=True, fit_intercept=False).fit(x_all, y_all).coef_
    bias = float(y.mean() - z.mean(axis=0) @ fitted)
    weights = dict(base.weights)
    weights.update({n: round(float(w * s), 4) for n, w, s in zip(names, fitted, signs)})
    return QualityModel(round(bias, 4), weights, centres, scales)


def cross_validated_logits(rows: list[dict], targets: np.ndarray, base: QualityModel, folds: int = 5) -> np.ndarray:
    out = np.zeros(len(rows))
    for train, test in KFold(n_splits=min(folds, len(rows)), shuffle=True, random_state=SEED).split(rows):
        model = fit_quality([rows[i] for i in train], targets[train], base)
        out[test] = [model.logit(rows[i]) for i in test]
    return out


def fit_reliability(logits: np.ndarray, targets: np.ndarray) -> list[float] | None:
    """P(right side of 50) as a function of |logit|, from held-out predictions."""
    decided = np.abs(targets - 0.5) > 0.1
    correct = ((logits > 0) == (targets > 0.5))[decided]
    if decided.sum() < 10 or correct.all() or not correct.any():
        return None
    model = LogisticRegression().fit(np.abs(logits[decided]).reshape(-1, 1), correct)
    return [round(float(model.intercept_[0]), 4), round(float(model.coef_[0, 0]), 4)]


def agreement(scores, labels) -> dict:
    """Spearman between scores and labels, and the AUC of telling the lowest third of the label
    scale from the highest third."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    norm = normalise(labels)
    low, high = norm <= 1 / 3, norm >= 2 / 3
    auc = None
    if low.any() and high.any():
        keep = low | high
        auc = round(float(roc_auc_score(high[keep], scores[keep])), 3)
    rho = spearmanr(scores, labels).statistic if len(set(labels)) > 1 and len(set(scores)) > 1 else float("nan")
    return {"n": int(len(labels)), "spearman": round(float(rho), 3), "auc_low_vs_high": auc}


def fit_profile(rows_by_quality: dict[str, list[dict]], labels_by_quality: dict[str, np.ndarray], base: Profile,
                name: str, version: int) -> tuple[Profile, dict]:
    """Fit every labelled quality; report cross-validated agreement before (``base``) and after."""
    models, report = dict(base.models), {}
    for q, labels in labels_by_quality.items():
        rows, targets = rows_by_quality[q], normalise(labels)
        before = [base.models[q].logit(r) for r in rows]
        cv = cross_validated_logits(rows, targets, base.models[q])
        model = fit_quality(rows, targets, base.models[q])
        model.reliability = fit_reliability(cv, targets)
        models[q] = model
        report[q] = {"before": agreement(before, labels), "after_cross_validated": agreement(cv, labels)}
    return Profile(name, version, models, {"fitted_on": report}), report


# --- a centre's labels against earlier results ---------------------------------------------------


def read_results(path: Path) -> dict[str, dict]:
    results = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("id") is not None and row.get("scores"):
                results[str(row["id"])] = row
    return results


def read_labels(path: Path, quality: str = "satisfaction") -> dict[str, dict[str, float]]:
    """quality -> call id -> label. Columns: ``id`` (or ``call_id``) and either ``label`` (for
    ``quality``) or one column per quality name."""
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        id_column = next((c for c in ("id", "call_id") if c in columns), None)
        if id_column is None:
            raise ValueError(f"{path}: needs an 'id' or 'call_id' column, found {columns}")
        targets = {q: q for q in QUALITIES if q in columns} or ({quality: "label"} if "label" in columns else {})
        if not targets:
            raise ValueError(f"{path}: needs a 'label' column or one named after a quality ({', '.join(QUALITIES)})")
        labels: dict[str, dict[str, float]] = {q: {} for q in targets}
        for row in reader:
            for q, column in targets.items():
                if row.get(column) not in (None, ""):
                    labels[q][str(row[id_column])] = float(row[column])
    return labels


def joined(results: dict[str, dict], labels: dict[str, dict[str, float]]):
    rows, values, missing = {}, {}, {}
    for q, by_id in labels.items():
        ids = [i for i in by_id if i in results and results[i]["scores"].get(q)]
        missing[q] = sorted(set(by_id) - set(ids))
        rows[q] = [results[i]["scores"][q]["features"] for i in ids]
        values[q] = np.array([by_id[i] for i in ids], dtype=float)
    return rows, values, missing


def evaluate(labels_path: Path, results_path: Path, quality: str = "satisfaction") -> dict:
    results = read_results(results_path)
    labels = read_labels(labels_path, quality)
    report = {}
    for q, by_id in labels.items():
        ids = [i for i in by_id if i in results and results[i]["scores"].get(q)]
        report[q] = agreement([results[i]["scores"][q]["score"] for i in ids], [by_id[i] for i in ids])
        report[q]["missing"] = len(by_id) - len(ids)
    return report


def calibrate(labels_path: Path, results_path: Path, base: Profile, out: Path, quality: str = "satisfaction",
              min_calls: int = 20) -> dict:
    results = read_results(results_path)
    rows, values, missing = joined(results, read_labels(labels_path, quality))
    for q, v in values.items():
        if len(v) < min_calls:
            raise ValueError(f"{q}: only {len(v)} labelled calls match the results; calibration needs at least {min_calls}")
    out = Path(out)
    version = load_version(out) + 1
    profile, report = fit_profile(rows, values, base, name=out.stem, version=version)
    profile.metrics["based_on"] = f"{base.name} v{base.version}"
    profile.save(out)
    return {"profile": str(out), "version": version, "agreement": report, "unmatched_labels": {q: len(m) for q, m in missing.items()}}


def load_version(path: Path) -> int:
    try:
        return int(json.loads(Path(path).read_text()).get("version", 0))
    except (FileNotFoundError, ValueError):
        return 0
