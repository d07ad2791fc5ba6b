"""Fitting the call-level mapping: the shipped profile (by ``hostscore train``) and a centre's own
(by ``hostscore calibrate`` on its survey or QA labels), and the agreement figures for both.

A profile's weights are fitted with sign constraints: each feature may only move its quality in
the direction its definition says (empathy can only raise connection), so a small or noisy label
set can shrink a feature towards zero but never turn it into its opposite.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from ..audio import check_file
from ..batch import InputError, json_lines
from ..qualities import QUALITIES, Profile, QualityModel, registry

SEED = 0
PRIOR_CALLS = 60  # how many labelled calls the hand-set definition is worth when fitting


def default_profile() -> Profile:
    """The hand-set definition, from each feature's ``FeatureSpec``: its sign is the definition,
    its prior the size, its centre and scale a typical value and a notable difference."""
    models = {q: QualityModel(0.0, {n: f.sign * f.prior for n, f in specs.items()}, {n: f.centre for n, f in specs.items()},
                              {n: f.scale for n, f in specs.items()}) for q, specs in registry().items()}
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
    return {"n": int(len(labels)), "spearman": None if math.isnan(rho) else round(float(rho), 3), "auc_low_vs_high": auc}


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


def read_results(path: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """Scored calls by id from JSON Lines results (a later row for an id wins: a rerun retried
    it), and the lines that could not be read, by line number, with the reason."""
    results, unreadable = {}, {}
    for n, row in json_lines(path):
        if isinstance(row, InputError):
            unreadable[f"line {n}"] = str(row).removeprefix(f"{path} line {n}: ")
        elif not isinstance(row, dict) or not isinstance(row.get("id"), (str, int)):
            unreadable[f"line {n}"] = "not a result row (an object with an id)"
        elif isinstance(row.get("scores"), dict) and row["scores"]:
            results[str(row["id"])] = row
    if not results:
        raise ValueError(f"{path}: no scored calls in it (from `hostscore score-dir` or `score-transcript`)")
    return results, unreadable


def read_labels(path: Path, quality: str = "satisfaction") -> dict[str, dict[str, float]]:
    """quality -> call id -> label. Columns: ``id`` (or ``call_id``) and either ``label`` (for
    ``quality``) or one column per quality name. A row with too few or too many fields, an id
    labelled twice, or a label that is not a finite number is refused with its line number."""
    path = Path(path)
    check_file(path, InputError)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start + 1})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in next(reader, [])]
    id_column = next((columns.index(c) for c in ("id", "call_id") if c in columns), None)
    if id_column is None:
        raise ValueError(f"{path}: needs an 'id' or 'call_id' column, found {columns}")
    targets = {q: columns.index(q) for q in QUALITIES if q in columns}
    if not targets and "label" in columns:
        targets = {quality: columns.index("label")}
    if not targets:
        raise ValueError(f"{path}: needs a 'label' column or one named after a quality ({', '.join(QUALITIES)})")
    labels: dict[str, dict[str, float]] = {q: {} for q in targets}
    first_line: dict[str, int] = {}
    for row in reader:
        where = f"{path} line {reader.line_num}"
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(columns):
            raise ValueError(f"{where}: has {len(row)} fields, the header has {len(columns)}")
        call_id = row[id_column].strip()
        if not call_id:
            raise ValueError(f"{where}: the {columns[id_column]} is empty")
        if call_id in first_line:
            raise ValueError(f"{where}: {call_id!r} is labelled again (first on line {first_line[call_id]})")
        first_line[call_id] = reader.line_num
        for q, column in targets.items():
            value = row[column].strip()
            if not value:
                continue
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if not math.isfinite(number):
                raise ValueError(f"{where}: {columns[column]} {value!r} is not a number")
            labels[q][call_id] = number
    if not any(labels.values()):
        raise ValueError(f"{path}: has no labels")
    return labels


def joined(results: dict[str, dict], labels: dict[str, dict[str, float]]):
    rows, values, missing = {}, {}, {}
    for q, by_id in labels.items():
        ids = [i for i in by_id if i in results and isinstance(results[i]["scores"].get(q), dict)]
        missing[q] = sorted(set(by_id) - set(ids))
        rows[q] = [results[i]["scores"][q].get("features") or {} for i in ids]
        values[q] = np.array([by_id[i] for i in ids], dtype=float)
    return rows, values, missing


def evaluate(labels_path: Path, results_path: Path, quality: str = "satisfaction") -> dict:
    results, unreadable = read_results(results_path)
    labels = read_labels(labels_path, quality)
    report = {}
    for q, by_id in labels.items():
        ids = [i for i in by_id if i in results and isinstance(results[i]["scores"].get(q), dict)]
        scores = [results[i]["scores"][q].get("score") for i in ids]
        report[q] = agreement(scores, [by_id[i] for i in ids]) if ids else {"n": 0, "spearman": None, "auc_low_vs_high": None}
        report[q]["missing"] = len(by_id) - len(ids)
    if unreadable:
        report["unreadable_result_lines"] = unreadable
    return report


def calibrate(labels_path: Path, results_path: Path, base: Profile, out: Path, quality: str = "satisfaction",
              min_calls: int = 20) -> dict:
    results, unreadable = read_results(results_path)
    rows, values, missing = joined(results, read_labels(labels_path, quality))
    for q, v in values.items():
        if len(v) < min_calls:
            raise ValueError(f"{q}: only {len(v)} labelled calls match the results; calibration needs at least {min_calls}")
        if np.ptp(v) == 0:
            raise ValueError(f"{q}: all {len(v)} labels are {v[0]:g}; calibration needs labels that differ")
    out = Path(out)
    version = load_version(out) + 1
    profile, report = fit_profile(rows, values, base, name=out.stem, version=version)
    profile.metrics["based_on"] = f"{base.name} v{base.version}"
    profile.save(out)
    summary = {"profile": str(out), "version": version, "agreement": report,
               "unmatched_labels": {q: len(m) for q, m in missing.items()}}
    if unreadable:
        summary["unreadable_result_lines"] = unreadable
    return summary


def load_version(path: Path) -> int:
    try:
        return int(json.loads(Path(path).read_text()).get("version", 0))
    except (FileNotFoundError, ValueError):
        return 0
