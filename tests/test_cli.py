"""The hostscore command as a user runs it."""

import json
import os
import shutil
import subprocess
import sys


HOSTSCORE = [sys.executable, "-m", "scorer.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def run(*args, check=True):
    result = subprocess.run([*HOSTSCORE, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr[-2000:]}")
    return result


def test_score_prints_a_summary_and_json(resolved_stereo_8k):
    summary = run("score", resolved_stereo_8k.path).stdout
    for heading in ("CONNECTION", "ENERGY", "SATISFACTION", "OUTCOME", "HANDLE TIME"):
        assert heading in summary
    data = json.loads(run("score", resolved_stereo_8k.path, "--json").stdout)
    assert data["scores"]["satisfaction"]["score"] > 50 and data["outcome"]["status"] == "resolved"


def test_score_bad_file_exits_with_a_clear_message(bad_inputs):
    result = run("score", bad_inputs["text_as_wav"], check=False)
    assert result.returncode == 2
    assert "text_as_wav.wav" in result.stderr and "Traceback" not in result.stderr


def test_score_dir_reports_failures_and_resumes(tmp_path, resolved_stereo_16k, bad_inputs):
    folder = tmp_path / "calls"
    folder.mkdir()
    shutil.copy(resolved_stereo_16k.path, folder / "good.wav")
    shutil.copy(bad_inputs["zero_bytes"], folder / "empty.wav")
    out = tmp_path / "results.jsonl"
    first = run("score-dir", folder, "--out", out, check=False)
    assert first.returncode == 1 and "FAILED empty.wav" in first.stderr
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["good.wav"]["status"] == "COMPLETED" and rows["good.wav"]["outcome"]["status"] == "resolved"
    assert rows["empty.wav"]["status"] == "FAILED" and "empty" in rows["empty.wav"]["error"]

    # a crash mid-write leaves a cut line; the rerun skips what is done and retries the failure
    with out.open("a") as f:
        f.write('{"id": "half')
    shutil.copy(resolved_stereo_16k.path, folder / "new.wav")
    second = run("score-dir", folder, "--out", out, check=False)
    assert "1 already scored, 2 to go" in second.stderr
    # the cut line was removed, not glued to the next row: every line is a row again
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows if r["status"] == "COMPLETED"] == ["good.wav", "new.wav"]


def test_score_transcript_json_and_jsonl(tmp_path):
    conversation = {"id": "chat-1", "turns": [
        {"speaker": "AGENT", "text": "Hi, thanks for contacting Contoso support. How can I help?", "begin_ms": 0, "end_ms": 3000},
        {"speaker": "CUSTOMER", "text": "My order never arrived and it was a birthday present.", "begin_ms": 3500, "end_ms": 7000},
        {"speaker": "AGENT", "text": "Oh no, I'm so sorry, that's really disappointing. I've sent a replacement by express, it arrives tomorrow.",
         "begin_ms": 7600, "end_ms": 13000},
        {"speaker": "CUSTOMER", "text": "Brilliant, thank you so much!", "begin_ms": 13400, "end_ms": 15000},
    ]}
    single = tmp_path / "chat.json"
    single.write_text(json.dumps(conversation))
    data = json.loads(run("score-transcript", single).stdout)
    assert data["id"] == "chat-1" and data["outcome"]["status"] == "resolved"
    assert "audio" in data["skipped"] and "timestamps" not in data["skipped"]
    assert data["characteristics"]["talk"]["AGENT"]["talk_ms"] > 0

    many = tmp_path / "chats.jsonl"
    lines = [json.dumps({**conversation, "id": f"c{i}"}) for i in range(3)] + ["{not json", json.dumps({"id": "x", "turns": []})]
    many.write_text("\n".join(lines) + "\n")
    result = run("score-transcript", many, check=False)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3 + ["FAILED"] * 2
    assert rows[-1]["id"] == "x" and "no turns" in rows[-1]["error"]
    assert result.returncode == 1


def test_train_refuses_unknown_heads_and_qualities_before_training(tmp_path):
    for args, said in ((["--heads", "nope"], "no turn head named nope"),
                       (["--heads", "exploring", "--qualities", "calm"], "no quality named calm"),
                       (["--qualities", "connection"], "go with --heads")):
        result = run("train", "--out", tmp_path / "models", *args, check=False)
        assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "models").exists()
