"""The `hostscore` command: score calls and transcripts, train the models, calibrate to a centre."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

# Whole milliseconds from a tenth of a second to an hour: shorter is every pause between words.
SILENCE_MS_RANGE = (100, 3_600_000)


def main(argv: list[str] | None = None, commands=()) -> int:
    """Run a command line; ``commands`` are functions that add more subcommands (the service's)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parser(commands).parse_args(argv)
    try:
        # inside the handler: pydantic takes a second to import, and Ctrl-C then is one line too
        from .settings import settings

        settings()  # a bad HOSTSCORE_* value is refused before any work
        return args.run(args) or 0
    except (ValueError, OSError) as e:  # AudioError, InputError, SettingsError are ValueErrors
        print(f"hostscore: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except RecursionError:
        print("hostscore: error: the input is nested too deeply to read", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hostscore: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not the input: still one line, the traceback on request
        from .settings import settings

        if settings().debug:
            raise
        print(f"hostscore: error: unexpected {type(e).__name__}: {_one_line(e)} (a bug in hostscore;"
              " HOSTSCORE_DEBUG=1 shows where)", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename:  # not "[Errno 2] ..."
        return f"{error.filename}: {error.strerror.lower()}"
    return " ".join(str(error).split()) or type(error).__name__


def silence_ms(text: str) -> int:
    low, high = SILENCE_MS_RANGE
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of milliseconds, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be from {low} to {high} milliseconds, got {value}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line rather than the whole usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser(commands=()) -> argparse.ArgumentParser:
    p = Parser(prog="hostscore", description=__doc__)
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    for add in commands:
        add(sub)

    def scoring_options(cmd, audio=True):
        if audio:
            cmd.add_argument("--engine", default="faster-whisper", choices=["faster-whisper", "openai-whisper"])
            cmd.add_argument("--model", help="base (the default, or HOSTSCORE_MODEL), tiny.en (faster, more word errors), "
                             "or a path to your own CTranslate2 Whisper model")
            cmd.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
            cmd.add_argument("--agent-channel", default="auto", choices=["auto", "left", "right"],
                             help="stereo: which channel is the agent; auto decides from what each side says (left when unclear)")
            cmd.add_argument("--silence-ms", type=silence_ms, default=5000, help="report silences at least this long")
        cmd.add_argument("--profile", type=Path, help="scoring profile JSON (from `hostscore calibrate`; default HOSTSCORE_PROFILE)")
        cmd.add_argument("--models-dir", type=Path,
                         help="heads, outcome model and profile from `hostscore train --out` (default HOSTSCORE_MODELS_DIR, else the shipped ones)")

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
    cmd.add_argument("--heads", nargs="+", metavar="HEAD",
                     help="train only these turn heads, keeping the others, the call-outcome model and the party "
                          "classifier from --base; the profile is refitted and the card rewritten")
    cmd.add_argument("--base", type=Path, help="with --heads: the models to keep (default: the shipped ones)")
    cmd.add_argument("--qualities", nargs="+", metavar="QUALITY",
                     help="with --heads: refit only these qualities of the profile, keeping the others from --base")
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
            cmd.add_argument("--profile", type=Path, help="profile to start from (default HOSTSCORE_PROFILE)")
        cmd.set_defaults(run=fn)
    return p


def _scorer(args, audio=True):
    from .pipeline import Scorer
    from .settings import settings

    models_dir = args.models_dir or settings().models_dir
    profile = _profile(args.profile) if args.profile or settings().profile or not models_dir else None
    if not audio:
        return Scorer(profile=profile, models_dir=models_dir)
    return Scorer(engine=args.engine, model=args.model or settings().model, device=args.device, agent_channel=args.agent_channel,
                  profile=profile, silence_threshold_ms=args.silence_ms, models_dir=models_dir)


def _profile(path: Path | None):
    """The scoring profile at ``path`` (default HOSTSCORE_PROFILE, else the shipped one), checked:
    ``load_profile`` names the file and the problem."""
    from .qualities import load_profile
    from .settings import settings

    return load_profile(path or settings().profile)


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
    from .batch import score_folder

    def report(message: str):
        print(message, file=sys.stderr)

    run = score_folder(lambda: _scorer(args), args.directory, args.out, report)
    for entry, why in list(run.skipped.items())[:10]:
        report(f"skipped {entry}: {why}")
    if len(run.skipped) > 10:
        report(f"... and {len(run.skipped) - 10} more skipped")
    report(f"{run.scored} scored, {run.failed} failed, {len(run.skipped)} skipped -> {args.out}")
    return 1 if run.failed else 0


def score_transcript(args) -> int:
    from .batch import JSON_LINES_SUFFIXES, conversation_id, read_json_file, score_json_lines
    from .audio import check_file

    check_file(args.conversation)  # a named pipe would block, a folder cannot be read
    lines = args.conversation.suffix.lower() in JSON_LINES_SUFFIXES
    data = None if lines else read_json_file(args.conversation)
    scorer = _scorer(args, audio=False)
    with _output(args.out) as out:
        if lines:
            def write(row: dict):
                out.write(json.dumps(row) + "\n")
                out.flush()  # a row at a time, for whoever reads the other end

            _, failed = score_json_lines(scorer, args.conversation, write)
            return 1 if failed else 0
        try:
            result = scorer.score_conversation(data, call_id=conversation_id(data, args.conversation.stem))
        except ValueError as e:
            raise ValueError(f"{args.conversation}: {e}") from None
        out.write(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0


@contextmanager
def _output(path: Path | None):
    """Standard output, or a file written whole: a temporary file beside it, renamed over it only
    when everything was written, so a rejected input or a crash leaves an existing file as it was."""
    if path is None:
        yield sys.stdout
        return
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name for --out")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def train(args) -> int:
    from .heads import HEADS, HEADS_PATH
    from .qualities import QUALITIES

    for given, known, what in ((args.heads, HEADS, "turn head"), (args.qualities, QUALITIES, "quality")):
        unknown = sorted(set(given or ()) - set(known))
        if unknown:
            print(f"error: no {what} named {', '.join(unknown)} (there are: {', '.join(known)})", file=sys.stderr)
            return 2
    if (args.qualities or args.base) and not args.heads:
        print("error: --qualities and --base go with --heads (without it every model is trained anew)", file=sys.stderr)
        return 2
    from .training.train import train as run

    run(args.out, args.emorynlp, heads=tuple(args.heads) if args.heads else None, base_dir=args.base or HEADS_PATH.parent,
        qualities=tuple(args.qualities or QUALITIES))
    return 0


def calibrate(args) -> int:
    from .training.calibrate import calibrate as run

    report = run(args.labels, args.results, _profile(args.profile), args.out, args.quality)
    print(json.dumps(report, indent=2, allow_nan=False))
    return 0


def evaluate(args) -> int:
    from .training.calibrate import evaluate as run

    print(json.dumps(run(args.labels, args.results, args.quality), indent=2, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
