"""Bad, odd and hostile inputs: every one gets a clear one-line error naming the file (and line or
turn), or an honest result that says what was wrong. Nothing hangs, nothing is lost.

The inputs are made here: damaged headers and signals with numpy/soundfile/struct/ffmpeg,
transcripts of the wrong shape, special files, CSVs and results files cut or ragged."""

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scorer import cli
from scorer.audio import AudioError, load_audio
from scorer.batch import completed_ids, list_folder, score_folder
from scorer.conversation import MAX_CALL_CHARS, MAX_TURN_CHARS, from_dict
from scorer.qualities import PROFILE_PATH, ProfileError, load_profile
from scorer.settings import SettingsError, settings
from scorer.training.calibrate import calibrate, evaluate, read_labels
from scorer.training.calibrate import default_profile
from scorer.transcribe import load_transcriber

RATE = 16000
GOOD = {"id": "chat-1", "turns": [
    {"speaker": "AGENT", "text": "Thanks for calling Contoso, how can I help you today?"},
    {"speaker": "CUSTOMER", "text": "My parcel arrived broken."},
    {"speaker": "AGENT", "text": "I'm so sorry. I've sent a replacement, it arrives tomorrow."},
    {"speaker": "CUSTOMER", "text": "Great, thank you so much!"},
]}


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Thank you for calling. How can I help you today? "
                    "I would like to ask about my last bill, please."], check=True)
    return path


@pytest.fixture
def fresh_settings():
    """Settings are read once per process: read them again for this test, and after it."""
    settings.cache_clear()
    yield
    settings.cache_clear()


def hostscore(capsys, *args) -> tuple[int, str, str]:
    """The CLI in this process (the models load once): exit code, stdout, stderr."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *names: str):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hostscore"), err
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0], err


# --- audio headers and signals -----------------------------------------------------------------


def with_header_field(speech: Path, target: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(speech.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    target.write_bytes(bytes(data))
    return target


def test_zero_bits_per_sample_header(speech, tmp_path):
    path = with_header_field(speech, tmp_path / "zero_bits.wav", 34, "<H", 0)  # fmt chunk: bits per sample
    with pytest.raises(AudioError, match="zero_bits.wav: not a recognised audio file"):
        load_audio(path)


def test_absurd_sample_rate_header_is_refused_not_scored_as_silence(speech, tmp_path):
    path = with_header_field(speech, tmp_path / "huge_rate.wav", 24, "<I", 2_147_483_647)
    with pytest.raises(AudioError, match=r"huge_rate.wav: .*2147483647 Hz"):
        load_audio(path)


def test_mostly_nan_samples_are_refused(speech, tmp_path):
    samples, rate = sf.read(speech, dtype="float32")
    samples[::2] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples, rate, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan.wav: 50.0% of the samples are not numbers"):
        load_audio(path)


def test_a_few_nan_and_inf_samples_are_silenced_and_noted(speech, tmp_path):
    samples, rate = sf.read(speech, dtype="float32")
    samples[[100, 5000, 9000]] = [np.nan, np.inf, -np.inf]
    path = tmp_path / "few_nan.wav"
    sf.write(path, samples, rate, subtype="FLOAT")
    samples[[100, 5000, 9000]] = 0
    silenced = tmp_path / "silenced.wav"
    sf.write(silenced, samples, rate, subtype="FLOAT")
    audio = load_audio(path)
    assert np.array_equal(audio.samples, load_audio(silenced).samples)
    assert audio.notes["audio.samples"].startswith("3 samples were not numbers")


def test_float_samples_beyond_full_scale_are_scaled_and_noted(speech, tmp_path):
    samples, rate = sf.read(speech, dtype="float32")
    pcm = tmp_path / "pcm.wav"
    sf.write(pcm, samples / np.abs(samples).max(), rate, subtype="PCM_16")
    loud = tmp_path / "loud.wav"
    sf.write(loud, 20 * samples / np.abs(samples).max(), rate, subtype="FLOAT")  # peaks at +-20
    audio, reference = load_audio(loud), load_audio(pcm)
    assert "scaled down by 26.0 dB" in audio.notes["audio.level"]
    # the same speech at the same level as the PCM copy, not +26 dB, and not clipped
    assert np.abs(audio.channel(0) - reference.channel(0)).max() < 1e-3
    assert _rms(audio) == pytest.approx(_rms(reference), rel=0.01)


def test_a_clipping_spike_is_clipped_and_noted(speech, tmp_path):
    samples, rate = sf.read(speech, dtype="float32")
    reference = tmp_path / "reference.wav"
    sf.write(reference, samples, rate, subtype="FLOAT")
    samples[1000] = 20.0
    path = tmp_path / "spike.wav"
    sf.write(path, samples, rate, subtype="FLOAT")
    audio = load_audio(path)
    assert audio.notes["audio.level"].startswith("1 float samples beyond full scale")
    # clipped at full scale: the rest of the signal keeps its level
    assert _rms(audio) == pytest.approx(_rms(load_audio(reference)), rel=0.05)


def _rms(audio) -> float:
    return float(np.sqrt(np.mean(audio.channel(0).astype(np.float64) ** 2)))


def test_truncated_mp3_is_decoded_with_a_note(speech, tmp_path):
    mp3 = tmp_path / "speech.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(speech), "-c:a", "libmp3lame", str(mp3)], check=True)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    whole, partial = load_audio(mp3), load_audio(cut)
    assert whole.notes == {}
    assert partial.duration_ms < 0.7 * whole.duration_ms
    assert "cut short" in partial.notes["audio.truncated"]


def test_truncated_call_is_scored_with_a_note_that_it_is_partial(scorer, resolved_stereo_16k, tmp_path):
    data = resolved_stereo_16k.path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    result = scorer.score_file(cut)
    assert "cut short" in result.skipped["audio.truncated"]
    assert result.turns and result.scores["connection"] is not None
    assert result.call.duration_ms < 0.65 * load_audio(resolved_stereo_16k.path).duration_ms


def test_corrupt_mp3_is_one_line(speech, tmp_path):
    mp3 = tmp_path / "speech.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(speech), "-c:a", "libmp3lame", str(mp3)], check=True)
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(mp3.read_bytes()[:1500] + np.random.default_rng(0).bytes(60_000))
    with pytest.raises(AudioError) as e:
        load_audio(corrupt)
    assert str(e.value).startswith(f"{corrupt}: damaged mp3 audio") and "\n" not in str(e.value)


def test_block_decoding_matches_decoding_at_once(tmp_path):
    """Long files are decoded and resampled a block at a time; the samples must not change."""
    rate, seconds = 8000, 150  # more than two blocks
    t = np.arange(rate * seconds) / rate
    signal_ = (0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)
    stereo = np.stack([signal_, signal_[::-1]], axis=1)
    path = tmp_path / "long.wav"
    sf.write(path, stereo, rate, subtype="FLOAT")
    import soxr

    expected = soxr.resample(stereo, rate, RATE).T
    audio = load_audio(path)
    assert audio.samples.shape == expected.shape
    assert np.abs(audio.channel(0) - expected[0]).max() < 1e-3
    assert np.abs(audio.channel(1) - expected[1]).max() < 1e-3


@pytest.mark.parametrize("kind", ["fifo", "loop", "folder", "broken_link"])
def test_special_files_are_refused_without_blocking(tmp_path, kind):
    path = tmp_path / f"{kind}.wav"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "gone.wav")
    reasons = {"fifo": "named pipe", "loop": "loop of symbolic links", "folder": "is a folder", "broken_link": "broken"}
    with pytest.raises(AudioError, match=f"{kind}.wav: .*{reasons[kind]}"):
        load_audio(path)


# --- settings and options ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0", "ten", "1e9"])
def test_bad_max_call_minutes_is_refused(monkeypatch, fresh_settings, value, capsys, tmp_path):
    monkeypatch.setenv("HOSTSCORE_MAX_CALL_MINUTES", value)
    with pytest.raises(SettingsError, match=f"HOSTSCORE_MAX_CALL_MINUTES={value}: must be a number of minutes"):
        settings()
    code, _, err = hostscore(capsys, "score", tmp_path / "call.wav")
    assert code == 2
    assert_one_line_error(err, "HOSTSCORE_MAX_CALL_MINUTES")


def test_cache_setting_that_is_a_file_is_refused(monkeypatch, fresh_settings, tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    monkeypatch.setenv("HOSTSCORE_CACHE", str(cache))
    code, _, err = hostscore(capsys, "score-transcript", tmp_path / "chat.json")
    assert code == 2
    assert_one_line_error(err, "HOSTSCORE_CACHE", "not a folder")


@pytest.mark.parametrize("value", ["-5", "0", "abc", "2.5"])
def test_bad_silence_ms_is_refused(capsys, value):
    with pytest.raises(SystemExit) as e:
        cli.main(["score", "call.wav", "--silence-ms", value])
    assert e.value.code == 2
    assert_one_line_error(capsys.readouterr().err, "--silence-ms")


@pytest.mark.parametrize("engine", ["faster-whisper", "openai-whisper"])
def test_cuda_without_a_gpu_says_so(engine):
    import ctranslate2
    import torch

    if ctranslate2.get_cuda_device_count() > 0 or torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    with pytest.raises(ValueError, match=f"--device cuda: {engine}.* sees no CUDA GPU"):
        load_transcriber(engine, "tiny.en", "cuda")


@pytest.mark.parametrize("engine", ["faster-whisper", "openai-whisper"])
def test_model_folder_that_is_not_a_ctranslate2_model(tmp_path, engine):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="my-model/model.bin: not a CTranslate2 model file"):
        load_transcriber(engine, str(folder), "cpu")


@pytest.mark.parametrize("content", ["[]", '{"models": []}', '{"models": {"energy": 5}}', '{"models": {"energy": {}}}',
                                     '{"models": ', "\ufeff{}"])
def test_profile_of_the_wrong_shape(tmp_path, capsys, content):
    profile = tmp_path / "centre.json"
    profile.write_text(content, encoding="utf-8")
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps(GOOD))
    code, _, err = hostscore(capsys, "score-transcript", chat, "--profile", profile)
    assert code == 2
    assert_one_line_error(err, "centre.json")


def profile_with(change) -> str:
    data = json.loads(PROFILE_PATH.read_text())
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize("content, message", [
    ("[]", "expected a JSON object"),
    ("null", "expected a JSON object"),
    ('{"models": []}', "models: must be an object, got a list"),
    ('{"models": {"energy": 5}}', "models.energy: must be an object, got a number"),
    ('{"models": {"energy": {}}}', "models.energy.bias: is missing"),
    ('{"models": ', "not valid JSON"),
    ("[" * 100_000, "nested too deeply"),
    (profile_with(lambda d: d["models"]["energy"].update(weights=["pace"])), "models.energy.weights: must be an object"),
    (profile_with(lambda d: d["models"]["energy"]["scales"].update(pace=0)), "models.energy.scales.pace: must be above 0"),
    (profile_with(lambda d: d["models"]["energy"].update(bias="high")), "models.energy.bias: must be a number, got text"),
    (profile_with(lambda d: d["models"]["energy"].update(bias=float("nan"))), "models.energy.bias: must be a finite number"),
    (profile_with(lambda d: d.update(version="two")), "version: must be a whole number"),
    (profile_with(lambda d: d["models"]["energy"].update(colour=1)), "models.energy.colour: is not part of a quality model"),
    (profile_with(lambda d: d["models"].pop("energy")), "no model for energy"),
    ('{"version": ' + "9" * 5000 + "}", "a number too long to read"),
])
def test_load_profile_of_the_wrong_shape_is_one_error_naming_file_and_problem(tmp_path, content, message):
    profile = tmp_path / "centre.json"
    profile.write_text(content, encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_profile(profile)
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith(str(profile)) and message in str(e.value), e.value
    assert len(str(e.value).splitlines()) == 1


def test_load_profile_refuses_what_is_not_utf8_json_or_not_a_file(tmp_path):
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"name": "\xff"}')
    with pytest.raises(ProfileError, match="binary.json: .*not UTF-8 text: byte 0xff"):
        load_profile(binary)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="fifo.json: is a named pipe"):
        load_profile(fifo)  # refused before it is opened, which would block
    with pytest.raises(ProfileError, match="missing.json: file not found"):
        load_profile(tmp_path / "missing.json")


def test_load_profile_reads_a_byte_order_mark(tmp_path):
    profile = tmp_path / "centre.json"
    profile.write_text("\ufeff" + PROFILE_PATH.read_text(), encoding="utf-8")
    loaded, shipped = load_profile(profile), load_profile(PROFILE_PATH)
    assert loaded.name == shipped.name and loaded.version == shipped.version
    assert loaded.models == shipped.models


# --- transcripts -------------------------------------------------------------------------------


def turn(**fields):
    return {"turns": [{"speaker": "AGENT", "text": "hello", **fields}]}


@pytest.mark.parametrize("data, message", [
    (None, 'the conversation must be a JSON object with "turns", got null'),
    ([GOOD], 'the conversation must be a JSON object with "turns", got a list'),
    ("turns", 'the conversation must be a JSON object with "turns", got text'),
    ({"turns": "hello"}, "turns: must be a list of turns, got text"),
    ({"turns": {"speaker": "AGENT"}}, "turns: must be a list of turns, got an object"),
    ({"turns": []}, "turns: is empty"),
    ({"turns": ["hello"]}, "turns[0]: must be an object, got text"),
    ({"turns": [{"speaker": "AGENT"}]}, "turns[0].text: is missing"),
    (turn(text=None), "turns[0].text: must be text, got null"),
    (turn(text=42), "turns[0].text: must be text, got a number"),
    (turn(text=["a", "b"]), "turns[0].text: must be text, got a list"),
    (turn(text="   "), "turns[0].text: is empty"),
    (turn(speaker="bob"), "turns[0].speaker: must be AGENT or CUSTOMER"),
    (turn(begin_ms=-500, end_ms=1000), "turns[0].begin_ms: must be milliseconds from 0"),
    (turn(begin_ms=0, end_ms=1e15), "turns[0].end_ms: must be milliseconds from 0"),
    (turn(begin_ms="0", end_ms=100), "turns[0].begin_ms: must be a number of milliseconds, got text"),
    (turn(begin_ms=5000, end_ms=1000), "turns[0]: end_ms 1000 is before begin_ms 5000"),
    (turn(begin_ms=0), "turns[0]: give both begin_ms and end_ms"),
    ({"id": {"x": 1}, **turn()}, "id: must be text or a number, got an object"),
    ({"turns": [{"speaker": "AGENT", "text": "hi", "begin_ms": 0, "end_ms": 900}, {"speaker": "CUSTOMER", "text": "yo"}]},
     "turns[1] has no begin_ms/end_ms while other turns do"),
    (turn(text="word " * (MAX_TURN_CHARS // 5 + 1)), "turns[0].text: is too long"),
    ({"turns": [{"speaker": "AGENT", "text": "x" * MAX_TURN_CHARS}] * (MAX_CALL_CHARS // MAX_TURN_CHARS + 1)},
     "more than 500,000 characters"),
])
def test_transcript_shapes_are_refused_with_turn_and_field(data, message):
    with pytest.raises(ValueError) as e:
        from_dict(data)
    assert message in str(e.value)


def test_valid_transcript_variants_are_accepted():
    conversation = from_dict({"id": 7, "turns": [{"speaker": " caller ", "text": " hi ", "begin_ms": 1.6, "end_ms": 900,
                                                   "sentiment": "ignored"}]})
    assert conversation.turns[0].speaker == "CUSTOMER" and conversation.turns[0].text == "hi"
    assert conversation.turns[0].begin_ms == 2 and conversation.timed


@pytest.mark.parametrize("name, content, message", [
    ("array.json", "[1, 2]", 'array.json: the conversation must be a JSON object with "turns", got a list'),
    ("null.json", "null", "null.json: the conversation must be a JSON object"),
    ("text.json", '{"turns": "hello"}', "text.json: turns: must be a list of turns"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "deep.json: JSON nested too deeply"),
    ("broken.json", '{"turns": [', "broken.json: not valid JSON"),
    ("latin1.json", b'{"turns": [{"speaker": "AGENT", "text": "caf\xe9"}]}', "latin1.json: not UTF-8 text"),
    ("empty.json", "", "empty.json: file is empty"),
    # Python refuses integers of over 4,300 digits with an error that named no file
    ("digits.json", '{"turns": [{"speaker": "AGENT", "text": "hi", "end_ms": ' + "9" * 5000 + "}]}",
     "digits.json: not valid for a conversation (a number thousands of digits long)"),
])
def test_score_transcript_bad_files_keep_an_existing_out_file(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "result.json"
    out.write_text("earlier result\n")
    code, stdout, err = hostscore(capsys, "score-transcript", path, "--out", out)
    assert code == 2 and stdout == ""
    assert_one_line_error(err, message)
    assert out.read_text() == "earlier result\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_score_transcript_special_files(tmp_path, capsys, kind):
    path = tmp_path / "chat.json"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    code, _, err = hostscore(capsys, "score-transcript", path)  # a FIFO used to block forever
    assert code == 2
    assert_one_line_error(err, "chat.json", "named pipe" if kind == "fifo" else "folder")


def test_score_transcript_with_a_byte_order_mark_writes_out_whole(tmp_path, capsys):
    path = tmp_path / "chat.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    out = tmp_path / "result.json"
    out.write_text("earlier result\n")
    code, stdout, err = hostscore(capsys, "score-transcript", path, "--out", out)
    assert code == 0 and stdout == "", err
    result = json.loads(out.read_text())
    assert result["id"] == "chat-1" and result["scores"]["satisfaction"]["score"] > 50


def test_json_lines_one_bad_line_is_one_failed_row(tmp_path, capsys):
    lines = [
        b"\xef\xbb\xbf" + json.dumps({**GOOD, "id": "first"}).encode(),
        b'{"id": "huge", "turns": [{"speaker": "AGENT", "text": "hi", "begin_ms": 0, "end_ms": 1e400}]}',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"id": "latin", "turns": [{"speaker": "AGENT", "text": "caf\xe9"}]}',
        b"",
        b'{"id": "cut", "turns": [{"speak',
        json.dumps({**GOOD, "id": "last"}).encode(),
    ]
    path = tmp_path / "chats.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, stdout, err = hostscore(capsys, "score-transcript", path)
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert code == 1
    assert [r["status"] for r in rows] == ["COMPLETED", "FAILED", "FAILED", "FAILED", "FAILED", "COMPLETED"]
    assert [r["id"] for r in rows] == ["first", "huge", "3", "4", "6", "last"]
    errors = [r["error"] for r in rows if r["status"] == "FAILED"]
    assert errors[0].startswith(f"{path} line 2: turns[0].end_ms")
    assert errors[1] == f"{path} line 3: JSON nested too deeply to be a conversation"
    assert errors[2].startswith(f"{path} line 4: not UTF-8 text")
    assert errors[3].startswith(f"{path} line 6: not valid JSON")


def test_json_lines_a_number_thousands_of_digits_long_is_one_failed_row(tmp_path, capsys):
    """Python refuses such an integer with a ValueError that used to end the run: the lines after it
    were never scored."""
    digits = '{"turns": [{"speaker": "AGENT", "text": "hi", "end_ms": ' + "9" * 5000 + "}]}"
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join([json.dumps({**GOOD, "id": "first"}), digits, json.dumps({**GOOD, "id": "last"})]) + "\n")
    code, stdout, _ = hostscore(capsys, "score-transcript", path)
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert code == 1
    assert [(r["id"], r["status"]) for r in rows] == [("first", "COMPLETED"), ("2", "FAILED"), ("last", "COMPLETED")]
    assert rows[1]["error"] == f"{path} line 2: not valid for a conversation (a number thousands of digits long)"


def _interruptible():
    """Ctrl-C as a terminal delivers it: a suite started in the background (``make test &``) runs with
    SIGINT ignored, and a child inherits that, so the signal would never reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_ends_with_one_line(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps({**GOOD, "id": f"c{i}"}) for i in range(5000)) + "\n")
    process = subprocess.Popen([sys.executable, "-m", "scorer.cli", "score-transcript", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"}, preexec_fn=_interruptible)
    assert json.loads(process.stdout.readline())["status"] == "COMPLETED"  # it is scoring now
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)  # it loads the models first: slow on a busy 2-core machine
    assert process.returncode == 130
    assert err.strip() == "hostscore: interrupted"


# What the `hostscore` console script runs (pyproject's [project.scripts]).
ENTRY_POINT = "import sys; from api.cli import main; sys.exit(main())"


def test_ctrl_c_while_starting_ends_with_one_line(tmp_path):
    """A second in, the command is still importing numpy, torch and the pipeline (3-7 s on a busy
    2-core machine): a Ctrl-C there printed a KeyboardInterrupt traceback from the import."""
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(GOOD))
    process = subprocess.Popen([sys.executable, "-c", ENTRY_POINT, "score-transcript", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"}, preexec_fn=_interruptible)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130
    assert err.strip() == "hostscore: interrupted"


def test_the_command_starts_without_the_heavy_imports():
    """Why a Ctrl-C at any moment is caught: what loads before the command's handler is the standard
    library and argparse; numpy, torch, pydantic and the pipeline load inside it."""
    code = ("import sys; import api.cli; print(sorted(m for m in ('numpy', 'torch', 'pydantic', 'scorer.pipeline')"
            " if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


# --- folders and resume ------------------------------------------------------------------------


def test_folder_lists_special_entries_with_reasons(tmp_path, speech):
    calls = tmp_path / "calls"
    (calls / "sub").mkdir(parents=True)
    (calls / "sub" / "a.wav").write_bytes(speech.read_bytes())
    (calls / "notes.txt").write_text("not a call")
    os.mkfifo(calls / "pipe.wav")
    (calls / "loop.wav").symlink_to(calls / "loop.wav")
    (calls / "folder.wav").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "b.wav").write_bytes(speech.read_bytes())
    (calls / "linked").symlink_to(outside)
    (calls / "up").symlink_to(calls)  # a loop through a folder link

    folder = list_folder(calls)
    assert [p.relative_to(calls).as_posix() for p in folder.recordings] == ["sub/a.wav"]
    assert "named pipe" in folder.failed["pipe.wav"] and "loop" in folder.failed["loop.wav"]
    assert set(folder.skipped) == {"notes.txt", "folder.wav/", "linked/", "up/"}
    assert "not followed" in folder.skipped["linked/"]

    results = tmp_path / "results.jsonl"
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    os.mkfifo(only_bad / "pipe.wav")
    (only_bad / "readme.md").write_text("hi")
    run = score_folder(lambda: pytest.fail("nothing to score: no models needed"), only_bad, results)
    assert (run.total, run.scored, run.failed) == (1, 0, 1) and "readme.md" in run.skipped
    row = json.loads(results.read_text())
    assert row["status"] == "FAILED" and row["id"] == "pipe.wav" and "named pipe" in row["error"]


def test_resume_repairs_a_cut_last_line(tmp_path):
    results = tmp_path / "results.jsonl"
    done = {"id": "a.wav", "status": "COMPLETED", "scores": {}}
    failed = {"id": "b.wav", "status": "FAILED", "error": "x"}
    results.write_text(json.dumps(done) + "\n" + json.dumps(failed) + "\n" + '{"id": "c.wav", "status": "COMPL')
    assert completed_ids(results) == {"a.wav"}
    assert results.read_text().endswith(json.dumps(failed) + "\n")  # the cut row is gone
    with results.open("a") as f:  # the next run appends: no row glued to a cut one
        f.write(json.dumps({**done, "id": "c.wav"}) + "\n")
    assert completed_ids(results) == {"a.wav", "c.wav"}
    assert all(json.loads(line) for line in results.read_text().splitlines())


# --- calibrate and evaluate --------------------------------------------------------------------


@pytest.fixture
def centre(tmp_path):
    """Results for 30 scored calls with features, as score-dir writes them."""
    rng = np.random.default_rng(0)
    names = list(default_profile().models["satisfaction"].weights)
    results = tmp_path / "results.jsonl"
    with results.open("w") as f:
        for i in range(30):
            features = {n: float(rng.normal()) for n in names}
            f.write(json.dumps({"id": f"call{i}", "status": "COMPLETED",
                                "scores": {"satisfaction": {"score": float(rng.uniform(0, 100)), "features": features}}}) + "\n")
        f.write('{"id": "cut", "scores": {"satisf')  # a crash mid-write
    return tmp_path, results


def write_csv(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


@pytest.mark.parametrize("body, message", [
    ("id,label\ncall1,4\ncall2,5\ncall1,2\n", "line 4: 'call1' is labelled again (first on line 2)"),
    ("id,label\ncall1,4\ncall2\n", "line 3: has 1 fields, the header has 2"),
    ("id,label\ncall1,4,extra\n", "line 2: has 3 fields, the header has 2"),
    ("id,label\ncall1,nan\n", "line 2: label 'nan' is not a number"),
    ("id,label\ncall1,four\n", "line 2: label 'four' is not a number"),
    ("id,label\n,4\n", "line 2: the id is empty"),
    ("name,label\ncall1,4\n", "needs an 'id' or 'call_id' column"),
    ("id,label\n", "has no labels"),
])
def test_label_csv_problems_name_the_line(tmp_path, body, message):
    with pytest.raises(ValueError) as e:
        read_labels(write_csv(tmp_path / "labels.csv", body))
    assert str(e.value).startswith(str(tmp_path / "labels.csv")) and message in str(e.value)


def test_label_csv_with_byte_order_mark_is_read(tmp_path):
    labels = read_labels(write_csv(tmp_path / "labels.csv", "\ufeffcall_id,label\ncall1,4\n"))
    assert labels == {"satisfaction": {"call1": 4.0}}


def test_calibrate_refuses_constant_labels(centre):
    folder, results = centre
    labels = write_csv(folder / "labels.csv", "id,label\n" + "".join(f"call{i},4\n" for i in range(30)))
    with pytest.raises(ValueError, match="all 30 labels are 4; calibration needs labels that differ"):
        calibrate(labels, results, default_profile(), folder / "profile.json")
    assert not (folder / "profile.json").exists()


def test_evaluate_is_valid_json_and_reports_unreadable_rows(centre, capsys):
    folder, results = centre
    labels = write_csv(folder / "labels.csv", "id,label\n" + "".join(f"call{i},4\n" for i in range(30)) + "other,3\n")
    report = evaluate(labels, results)
    assert report["satisfaction"]["spearman"] is None  # constant labels: no rank agreement, not NaN
    assert report["satisfaction"]["missing"] == 1 and "line 31" in report["unreadable_result_lines"]
    code, stdout, _ = hostscore(capsys, "evaluate", labels, "--results", results)
    assert code == 0 and json.loads(stdout) == report and "NaN" not in stdout
