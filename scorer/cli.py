"""The `hostscore` command: score calls and transcripts, train the models, calibrate to a centre."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".webm"}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError) as e:  # AudioError is a ValueError
        print(f"hostscore: error: {e}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hostscore", description=__doc__)
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def scoring_options(cmd, audio=True):
        if audio:
            cmd.add_argument("--engine", default="faster-whisper", choices=["faster-whisper", "openai-whisper"])
            cmd.add_argument("--model", default="tiny.en", help="tiny.en, base, or a path to your own CTranslate2 Whisper model")
            cmd.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
            cmd.add_argument("--agent-channel", default="left", choices=["left", "right"], help="stereo: which channel is the agent")
            cmd.add_argument("--silence-ms", type=int, default=5000, help="report silences at least this long")
        cmd.add_argument("--profile", default=os.environ.get("HOSTSCORE_PROFILE"), help="scoring profile JSON (from `hostscore calibrate`)")
        cmd.add_argument("--models-dir", type=Path, default=os.environ.get("HOSTSCORE_MODELS_DIR"),
                         help="heads, outcome model and profile from `hostscore train --out` (default: the shipped ones)")

    cmd = sub.add_parser("score", help="score one recorded call")
    cmd.add_argument("audio", type=Path)
    cmd.add_argument("--json", action="store_true", help="print the full result as JSON")
    scoring_options(cmd)
    cmd.set_defaults(run=score)

    cmd = sub.add_parser("score-dir", help="score every recording in a folder into a JSON Lines file; resumes")
    cmd.add_argument("directory", type=Path)
    cmd.add_argument("--out", type=Path, default=Path("results.jsonl"))
    scoring_options(cmd)
    cmd.set_defaults(run=score_dir)

    cmd = sub.add_parser("score-transcript", help="score a conversation that is already text (JSON, or JSON Lines of many)")
    cmd.add_argument("conversation", type=Path)
    cmd.add_argument("--out", type=Path, help="write here instead of standard output")
    scoring_options(cmd, audio=False)
    cmd.set_defaults(run=score_transcript)

    cmd = sub.add_parser("train", help="rebuild the turn heads and scoring profile from scratch; writes the model card")
    cmd.add_argument("--out", type=Path, required=True,
                     help="folder for heads.json, outcome.json, profile.json and MODEL_CARD.md (use with --models-dir)")
    cmd.add_argument("--emorynlp", type=Path, help="EmoryNLP folder (default: ../shared/data/text/emorynlp)")
    cmd.set_defaults(run=train)

    for name, fn, text in (("calibrate", calibrate, "fit the scoring profile to a centre's own labels (CSAT, NPS, QA)"),
                           ("evaluate", evaluate, "agreement of scored calls with a labelled set")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("labels", type=Path, help="CSV: id (or call_id) and label, or one column per quality")
        cmd.add_argument("--results", type=Path, required=True, help="JSON Lines from score-dir or score-transcript")
        cmd.add_argument("--quality", default="satisfaction", choices=["connection", "energy", "satisfaction"],
                         help="what a plain 'label' column measures")
        if name == "calibrate":
            cmd.add_argument("--out", type=Path, default=Path("profiles/centre.json"))
            cmd.add_argument("--profile", default=os.environ.get("HOSTSCORE_PROFILE"), help="profile to start from")
        cmd.set_defaults(run=fn)
    return p


def _scorer(args, audio=True):
    from .pipeline import Scorer

    if not audio:
        return Scorer(profile=args.profile, models_dir=args.models_dir)
    return Scorer(engine=args.engine, model=args.model, device=args.device, agent_channel=args.agent_channel,
                  profile=args.profile, silence_threshold_ms=args.silence_ms, models_dir=args.models_dir)


def _progress_bar(total_s: float, label: str):
    from tqdm import tqdm

    bar = tqdm(total=round(total_s), unit="s", desc=label, leave=False, disable=not sys.stderr.isatty())

    def update(seconds: float):
        bar.n = min(round(seconds), bar.total)
        bar.refresh()

    return bar, update


def score(args) -> int:
    from .audio import load_audio
    from .summary import summary

    audio = load_audio(args.audio)
    scorer = _scorer(args)
    bar, update = _progress_bar(audio.duration_ms / 1000 * audio.channels, f"transcribing {args.audio.name}")
    with bar:
        result = scorer.score_audio(audio, update, call_id=args.audio.name)
    print(json.dumps(result.to_dict(), indent=2) if args.json else summary(result))
    return 0


def score_dir(args) -> int:
    if not args.directory.is_dir():
        raise ValueError(f"{args.directory} is not a folder")
    files = sorted(p for p in args.directory.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    done = _done_ids(args.out)
    todo = [p for p in files if str(p.relative_to(args.directory)) not in done]
    print(f"{len(files)} recordings, {len(files) - len(todo)} already scored, {len(todo)} to go", file=sys.stderr)
    scorer = _scorer(args) if todo else None
    failed = 0
    with args.out.open("a") as out:
        for path in todo:
            call_id = str(path.relative_to(args.directory))
            try:
                row = scorer.score_file(path, call_id=call_id).to_dict()
                row["status"] = "COMPLETED"
            except Exception as e:  # one bad file must not stop the folder
                failed += 1
                row = {"id": call_id, "status": "FAILED", "error": f"{type(e).__name__}: {e}"}
                print(f"FAILED {call_id}: {e}", file=sys.stderr)
            out.write(json.dumps(row) + "\n")
            out.flush()
    print(f"{len(todo) - failed} scored, {failed} failed -> {args.out}", file=sys.stderr)
    return 1 if failed else 0


def _done_ids(path: Path) -> set[str]:
    """Completed calls in an earlier run's output; failed ones are tried again."""
    if not path.exists():
        return set()
    done = set()
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
        if row.get("status") == "COMPLETED":
            done.add(row["id"])
    return done


def score_transcript(args) -> int:
    scorer = _scorer(args, audio=False)
    text = args.conversation.read_text()
    out = args.out.open("w") if args.out else sys.stdout
    failed = 0
    try:
        if args.conversation.suffix.lower() == ".jsonl":
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    row = scorer.score_conversation(data, call_id=str(data.get("id", n))).to_dict()
                    row["status"] = "COMPLETED"
                except (ValueError, KeyError, TypeError, AttributeError) as e:
                    failed += 1
                    row = {"id": _line_id(line, n), "status": "FAILED", "error": f"line {n}: {e}"}
                out.write(json.dumps(row) + "\n")
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{args.conversation}: not valid JSON ({e})") from e
            row = scorer.score_conversation(data, call_id=data.get("id") or args.conversation.stem).to_dict()
            out.write(json.dumps(row, indent=2) + "\n")
    finally:
        if args.out:
            out.close()
    return 1 if failed else 0


def _line_id(line: str, n: int) -> str:
    try:
        return str(json.loads(line).get("id", n))
    except (json.JSONDecodeError, AttributeError):
        return str(n)


def train(args) -> int:
    from .training.train import train as run

    run(args.out, args.emorynlp)
    return 0


def calibrate(args) -> int:
    from .training.calibrate import calibrate as run
    from .qualities import load_profile

    report = run(args.labels, args.results, load_profile(args.profile), args.out, args.quality)
    print(json.dumps(report, indent=2))
    return 0


def evaluate(args) -> int:
    from .training.calibrate import evaluate as run

    print(json.dumps(run(args.labels, args.results, args.quality), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
