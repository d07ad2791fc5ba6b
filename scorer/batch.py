"""Scoring many inputs: a folder of recordings and a JSON Lines file of conversations.

Plain functions shared by the CLI and the job workers. One bad input is one ``FAILED`` row naming
it (and its line), and the rest go on; a folder's results file is appended row by row and
flushed, so a rerun after a crash or Ctrl-C resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from .audio import check_file

AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".webm"}
JSON_LINES_SUFFIXES = {".jsonl", ".ndjson"}
# A conversation is at most MAX_CALL_CHARS of text; with JSON around it, far less than this.
MAX_LINE_BYTES = 8 << 20
MAX_JSON_FILE_BYTES = 8 << 20
# JSON Lines conversations scored together (the encoder batched across them); a crash loses at most these.
JSON_LINES_CHUNK = 64


class InputError(ValueError):
    """An input that cannot be read: the message names the file (and line) and says why."""


# --- reading text input ----------------------------------------------------------------------


def read_json_file(path: Path) -> object:
    """A JSON file (UTF-8, with or without a byte-order mark) as data; ``InputError`` otherwise."""
    path = Path(path)
    check_file(path, InputError)
    size = path.stat().st_size
    if size > MAX_JSON_FILE_BYTES:
        raise InputError(f"{path}: is {size / 2**20:.0f} MB, more than one conversation holds"
                         f" (at most {MAX_JSON_FILE_BYTES >> 20} MB; use JSON Lines for many)")
    return parse_json(path.read_bytes(), str(path))


def parse_json(raw: bytes, where: str) -> object:
    """JSON from bytes; the error names ``where`` (a file, or a file and line) and the place."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        place = f"on line {line}" if raw.rstrip(b"\r\n").count(b"\n") else f"at byte {e.start + 1}"
        raise InputError(f"{where}: not UTF-8 text (byte 0x{raw[e.start]:02x} {place})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        place = f"line {e.lineno} column {e.colno}" if text.count("\n") else f"column {e.colno}"
        hint = "; many conversations, one per line, go in a .jsonl file" if e.msg == "Extra data" else ""
        raise InputError(f"{where}: not valid JSON ({e.msg} at {place}{hint})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply to be a conversation") from None
    except ValueError:  # Python refuses to read an integer of over 4,300 digits (a denial-of-service guard)
        raise InputError(f"{where}: not valid for a conversation (a number thousands of digits long)") from None


def json_lines(path: Path) -> Iterator[tuple[int, object | InputError]]:
    """(line number, data or the error for that line) for each non-blank line of a JSON Lines file."""
    path = Path(path)
    check_file(path, InputError)
    with path.open("rb") as f:
        n = 0
        while raw := f.readline(MAX_LINE_BYTES + 1):
            n += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := f.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                yield n, InputError(f"{path} line {n}: longer than {MAX_LINE_BYTES >> 20} MB, more than a conversation holds")
                continue
            if n == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                yield n, parse_json(raw, f"{path} line {n}")
            except InputError as e:
                yield n, e


def conversation_id(data: object, default: str) -> str:
    """The conversation's own id when it gives a usable one, else ``default``."""
    given = data.get("id") if isinstance(data, dict) else None
    return str(given) if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given) else default


def score_json_lines(scorer, path: Path, write: Callable[[dict], None],
                     chunk: int = JSON_LINES_CHUNK) -> tuple[int, int]:
    """Score each line of a JSON Lines file of conversations, ``chunk`` lines at a time with the
    encoder batched across them (``Scorer.score_conversations``); rows are written in line order.
    Returns (scored, failed)."""
    scored = failed = 0
    lines = json_lines(path)
    while block := list(islice(lines, chunk)):
        ids = [conversation_id(data, str(n)) for n, data in block]
        readable = [k for k, (_, data) in enumerate(block) if not isinstance(data, InputError)]
        outcomes: list[object] = [data for _, data in block]  # a line's InputError stays its outcome
        results = scorer.score_conversations([block[k][1] for k in readable], [ids[k] for k in readable])
        for k, result in zip(readable, results):
            outcomes[k] = result
        for (n, _), call_id, outcome in zip(block, ids, outcomes):
            try:
                if isinstance(outcome, Exception):
                    raise outcome
                row = outcome.to_dict()
                row["status"] = "COMPLETED"
                scored += 1
            except Exception as e:  # one bad line must not stop the file
                failed += 1
                row = failed_row(call_id, e, f"{path} line {n}")
            write(row)
    return scored, failed


def failed_row(call_id: str, error: Exception, where: str) -> dict:
    message = str(error)
    if not message.startswith(where):
        message = f"{where}: {message}"
    if not isinstance(error, (ValueError, OSError)):  # unexpected: keep what kind it was
        message = f"{message} ({type(error).__name__})"
    return {"id": call_id, "status": "FAILED", "error": " ".join(message.split())}


# --- a folder of recordings --------------------------------------------------------------------


@dataclass
class Folder:
    recordings: list[Path] = field(default_factory=list)  # to score, in order
    failed: dict[str, str] = field(default_factory=dict)  # id -> why: named like a recording, cannot be one
    skipped: dict[str, str] = field(default_factory=dict)  # relative path -> why it is not scored


def list_folder(directory: Path) -> Folder:
    """Every entry under ``directory``: recordings to score, recording-named entries that cannot
    be read (a named pipe, a link loop), and what is skipped, each with the reason.

    Links to folders are not followed: a link back up would loop, and one elsewhere could score
    calls that are not in this folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: is not a folder" if directory.exists() else f"{directory}: folder not found")
    folder = Folder()
    _walk(directory, directory, folder)
    return folder


def _walk(root: Path, here: Path, folder: Folder):
    try:
        entries = sorted(os.scandir(here), key=lambda e: e.name)
    except OSError as e:
        folder.skipped[f"{here.relative_to(root)}/"] = f"cannot be listed ({(e.strerror or str(e)).lower()})"
        return
    for entry in entries:
        path = Path(entry.path)
        rel = str(path.relative_to(root))
        is_audio = path.suffix.lower() in AUDIO_SUFFIXES
        if entry.is_symlink():
            try:
                target = os.stat(path)
            except OSError:
                target = None  # broken or looping: check_file says which
            if target is not None and stat.S_ISDIR(target.st_mode):
                folder.skipped[rel + "/"] = "a symbolic link to a folder: not followed"
                continue
        if entry.is_dir(follow_symlinks=False):
            if is_audio:
                folder.skipped[rel + "/"] = "a folder named like a recording: searched as a folder"
            _walk(root, path, folder)
        elif not is_audio:
            folder.skipped[rel] = f"not a recording format hostscore reads ({', '.join(sorted(AUDIO_SUFFIXES))})"
        else:
            try:
                check_file(path, InputError)
                folder.recordings.append(path)
            except InputError as e:
                folder.failed[rel] = str(e)


def completed_ids(results: Path) -> set[str]:
    """Calls already scored in an earlier run's results; failed ones are tried again.

    A last line cut short by a crash is removed first, so the next row does not join it."""
    results = Path(results)
    if not results.exists():
        return set()
    if not results.is_file():
        raise InputError(f"{results}: is not a regular file; give a file for the results")
    repair_cut_line(results)
    done = set()
    with results.open("rb") as f:
        for raw in f:
            try:
                row = json.loads(raw)
            except (ValueError, RecursionError):  # a line glued or damaged by an older run
                continue
            if isinstance(row, dict) and row.get("status") == "COMPLETED" and isinstance(row.get("id"), str):
                done.add(row["id"])
    return done


def repair_cut_line(path: Path) -> bool:
    """Truncate a JSON Lines file after its last complete line; True if anything was cut."""
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return False
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return False
        keep, step = 0, 1 << 16
        position = end
        while position > 0:  # the last newline, read backwards a block at a time
            position = max(0, position - step)
            f.seek(position)
            block = f.read(min(step, end - position))
            if (i := block.rfind(b"\n")) >= 0:
                keep = position + i + 1
                break
        f.truncate(keep)
    return True


@dataclass
class FolderRun:
    total: int  # recordings found
    already: int  # scored by an earlier run
    scored: int = 0
    failed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def score_folder(make_scorer: Callable[[], object], directory: Path, results: Path,
                 report: Callable[[str], None] = lambda message: None) -> FolderRun:
    """Score every recording under ``directory`` into the JSON Lines file ``results``, resuming.

    ``make_scorer`` is called only when there is something to score; ``report`` gets one line per
    failure and progress note."""
    directory, results = Path(directory), Path(results)
    folder = list_folder(directory)
    done = completed_ids(results)
    todo = [p for p in folder.recordings if str(p.relative_to(directory)) not in done]
    run = FolderRun(len(folder.recordings) + len(folder.failed), len(folder.recordings) - len(todo),
                    skipped=folder.skipped)
    report(f"{run.total} recordings, {run.already} already scored, {len(todo) + len(folder.failed)} to go"
           + (f", {len(folder.skipped)} other entries skipped" if folder.skipped else ""))
    scorer = make_scorer() if todo else None
    with results.open("a", encoding="utf-8") as out:

        def write(row: dict):
            out.write(json.dumps(row) + "\n")
            out.flush()

        for call_id, why in folder.failed.items():
            run.failed += 1
            report(f"FAILED {call_id}: {why}")
            write({"id": call_id, "status": "FAILED", "error": why})
        for path in todo:
            call_id = str(path.relative_to(directory))
            try:
                row = scorer.score_file(path, call_id=call_id).to_dict()
                row["status"] = "COMPLETED"
                run.scored += 1
            except Exception as e:  # one bad file must not stop the folder
                run.failed += 1
                row = failed_row(call_id, e, str(path))
                report(f"FAILED {call_id}: {row['error']}")
            write(row)
    return run
