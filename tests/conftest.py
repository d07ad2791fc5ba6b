"""Shared session-scoped fixtures. Names are stable: other test files depend on them.

shared_data          Path to ../shared/data (env HOSTSCORE_SHARED_DATA overrides). Skips the test
                     when absent, but fails it when CI=true, so CI never silently skips.
resolved_stereo_16k  CallTruth of scorer.synth.RESOLVED_CALL: stereo (agent left, customer right),
                     16 kHz.
resolved_stereo_8k   The same call at 8 kHz, band-limited to 300-3400 Hz like a phone line.
resolved_mono_16k    The same call mixed to mono, 16 kHz.
resolved_mono_8k     The same call mixed to mono, 8 kHz, telephone band.
deferred_stereo_16k  CallTruth of scorer.synth.DEFERRED_CALL, stereo 16 kHz.
angry_stereo_16k     CallTruth of scorer.synth.ANGRY_CALL, stereo 16 kHz: has an agent interruption
                     and about 6 s of dead air.
bad_inputs           dict name -> Path of files a scorer must reject or handle gracefully:
                     "zero_bytes", "text_as_wav" (a text file named .wav), "truncated_wav" (a real
                     WAV cut to 100 bytes), "silence_10min" (10 min of digital silence plus very
                     faint noise, 8 kHz stereo), "dead_channel" (stereo: the resolved call's agent
                     on the left, silence on the right).

Synthesised lines are cached (in the synth folder of HOSTSCORE_CACHE, default ~/.cache/hostscore),
so only the first run pays for synthesis; the calls themselves are assembled into a session temp dir.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scorer import synth

# Tests must never reach the network for models.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ.get("HOSTSCORE_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        reason = f"shared data not found at {path} (set HOSTSCORE_SHARED_DATA)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def calls_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("calls")


@pytest.fixture(scope="session")
def resolved_stereo_16k(calls_dir) -> synth.CallTruth:
    return synth.make_call(synth.RESOLVED_CALL, calls_dir / "resolved_stereo_16k.wav")


@pytest.fixture(scope="session")
def resolved_stereo_8k(calls_dir) -> synth.CallTruth:
    return synth.make_call(synth.RESOLVED_CALL, calls_dir / "resolved_stereo_8k.wav",
                           sample_rate=8000, telephone_band=True)


@pytest.fixture(scope="session")
def resolved_mono_16k(calls_dir) -> synth.CallTruth:
    return synth.make_call(synth.RESOLVED_CALL, calls_dir / "resolved_mono_16k.wav", layout="mono")


@pytest.fixture(scope="session")
def resolved_mono_8k(calls_dir) -> synth.CallTruth:
    return synth.make_call(synth.RESOLVED_CALL, calls_dir / "resolved_mono_8k.wav",
                           sample_rate=8000, layout="mono", telephone_band=True)


@pytest.fixture(scope="session")
def deferred_stereo_16k(calls_dir) -> synth.CallTruth:
    return synth.make_call(synth.DEFERRED_CALL, calls_dir / "deferred_stereo_16k.wav")


@pytest.fixture(scope="session")
def angry_stereo_16k(calls_dir) -> synth.CallTruth:
    return synth.make_call(synth.ANGRY_CALL, calls_dir / "angry_stereo_16k.wav")


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory, resolved_stereo_16k) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_inputs")
    paths = {name: root / f"{name}.wav" for name in
             ("zero_bytes", "text_as_wav", "truncated_wav", "silence_10min", "dead_channel")}

    paths["zero_bytes"].write_bytes(b"")
    paths["text_as_wav"].write_text("This is not audio, just a text file with a .wav name.\n")
    paths["truncated_wav"].write_bytes(resolved_stereo_16k.path.read_bytes()[:100])

    # A few LSBs of noise: silent to the ear, but not all-zero, like an idle line.
    rate = 8000
    noise = np.random.default_rng(0).normal(0, 3e-5, (10 * 60 * rate, 2))
    sf.write(paths["silence_10min"], noise, rate, subtype="PCM_16")

    audio, rate = sf.read(resolved_stereo_16k.path, dtype="float32")
    audio[:, 1] = 0.0
    sf.write(paths["dead_channel"], audio, rate, subtype="PCM_16")
    return paths


@pytest.fixture(scope="session")
def scorer():
    """One Scorer with Whisper tiny.en shared by the tests of how the pipeline works: the fastest model on two
    cores, and its word errors are what those tests are built to survive."""
    from scorer import Scorer

    return Scorer(model="tiny.en")


@pytest.fixture(scope="session")
def shipped_scorer():
    """The Scorer as shipped (Whisper base): for the tests that its scores hold on calls (the real recordings'
    QA judgements, audio against text)."""
    from scorer import Scorer

    return Scorer()


def words_of(text: str) -> str:
    """Normalise for word error rate: lower case, digits and words only."""
    import re

    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


class Service:
    """A real `hostscore serve` process on loopback with its own data dir (and any HOSTSCORE_*
    settings given), its keys by role, and ways to stop, kill and start it again."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None):
        import socket

        self.data_dir = data_dir
        # tiny.en: these are tests of the service, not of transcription, on two cores
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOSTSCORE_MODEL": "tiny.en", **(env or {})}
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.keys = {}
        self.ready_path = "/readyz"  # what start() waits to answer 200

    def hostscore(self, *args: str) -> str:
        import subprocess

        done = subprocess.run([str(REPO / ".venv" / "bin" / "hostscore"), *args, "--data-dir", str(self.data_dir)],
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def key(self, role: str, tenant: str = "acme") -> str:
        if (tenant, role) not in self.keys:
            self.keys[tenant, role] = self.hostscore("keys", "create", "--tenant", tenant, "--role", role).splitlines()[-1]
        return self.keys[tenant, role]

    def headers(self, role: str = "admin", tenant: str = "acme") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role, tenant)}"}

    def start(self, ready_timeout: float = 120) -> "Service":
        import subprocess
        import time

        import httpx

        self.log = open(self.data_dir / f"serve-{self.port}.log", "ab")
        self.process = subprocess.Popen([str(REPO / ".venv" / "bin" / "hostscore"), "serve", "--port", str(self.port),
                                         "--data-dir", str(self.data_dir)], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.data_dir / f"serve-{self.port}.log").read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"hostscore serve not ready in {ready_timeout} s")

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(30)
        self.process = None

    def wait_for(self, call_id: str, statuses=("COMPLETED", "FAILED"), timeout: float = 300, role: str = "admin",
                 tenant: str = "acme") -> dict:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            call = httpx.get(f"{self.url}/v1/calls/{call_id}", headers=self.headers(role, tenant), timeout=30).json()
            if call["status"] in statuses:
                return call
            time.sleep(0.3)
        raise TimeoutError(f"call {call_id} still {call['status']} after {timeout} s")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A running service (embedded SQLite, in-process worker) for the tests of one module."""
    running = Service(tmp_path_factory.mktemp("service")).start()
    yield running
    running.stop()
