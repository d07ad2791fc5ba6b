"""The notebooks run top to bottom and show their plots: evaluation and calibration, and handle time
against the hosting scores."""

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "evaluate_and_calibrate.ipynb"


def test_notebook_runs_and_plots(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "spearman" in text and "version 1" in text


HOSTING_NOTEBOOK = NOTEBOOK.with_name("handle_time_vs_hosting.ipynb")
RUDE = [("AGENT", "Yeah, what do you want?"), ("CUSTOMER", "My card was declined, this is ridiculous."),
        ("AGENT", "Not my problem, call the bank. Bye."), ("CUSTOMER", "Unbelievable. Useless.")]
WARM = [("AGENT", "Thanks for calling Brightline, this is Dana, how can I help you today?"),
        ("CUSTOMER", "My card was declined twice today and I'm really annoyed."),
        ("AGENT", "I'm so sorry, that's frustrating. Let me look right now. I can see a fraud hold, I've lifted it."),
        ("CUSTOMER", "Oh great, thank you so much, that's sorted then. You've been really helpful.")]


def timed(lines, seconds_per_turn: float) -> dict:
    turns, at = [], 0
    for speaker, text in lines:
        turns.append({"speaker": speaker, "text": text, "begin_ms": at, "end_ms": at + int(seconds_per_turn * 1000)})
        at += int(seconds_per_turn * 1000) + 300
    return {"turns": turns}


def test_handle_time_vs_hosting_notebook_runs_on_scored_calls(tmp_path, scorer, monkeypatch):
    """Scored as the CLI scores them: short rude calls and long warm ones (the disagreement to find),
    as one JSON file per call and a JSON Lines file, with a FAILED line the notebook must skip."""
    plan = [("rude-short", RUDE, 1.5), ("rude-shorter", RUDE, 1.0), ("warm-long", WARM, 9.0), ("warm-longer", WARM, 12.0),
            ("warm-short", WARM, 2.5), ("rude-long", RUDE, 8.0)]
    results = scorer.score_conversations([timed(lines, s) for _, lines, s in plan], call_ids=[name for name, _, _ in plan])
    folder = tmp_path / "results"
    folder.mkdir()
    for result in results[:4]:
        (folder / f"{result.id}.json").write_text(json.dumps(result.to_dict(), indent=2))
    lines = [json.dumps({**r.to_dict(), "status": "COMPLETED"}) for r in results[4:]]
    lines.append(json.dumps({"id": "broken", "status": "FAILED", "error": "turns[0].text: must be text"}))
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("HOSTSCORE_RESULTS_DIR", str(folder))
    monkeypatch.delenv("HOSTSCORE_API_URL", raising=False)

    nb = nbformat.read(HOSTING_NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    text = "".join(o.get("text", "") for o in outputs)
    assert "6 scored calls with a handle time" in text
    assert text.count("spearman") == 3
    short_bad = [r.id for r in results if r.to_dict()["handle_time_ms"] < 15_000 and r.scores["satisfaction"].score < 50]
    assert short_bad, "the rude short calls should score under 50: the test's data says nothing otherwise"
    flagged = text.split("calls AHT rates well above their hosting:")[1]
    assert any(name in flagged for name in short_bad)
