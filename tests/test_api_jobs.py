"""Nothing is lost, for both worker kinds, against the real PostgreSQL (and Redis for Celery) of this
machine: a worker SIGKILLed mid-call is started again and the call completes exactly once; a call
that fails three times is FAILED with its reason; stopping and restarting the API loses no queued
call (for Celery even when the broker lost its messages). Real processes, real recordings."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from api.jobs.celery_queue import CHECK_CACHE_S
from conftest import REPO, Service

PG = dict(host="127.0.0.1", port=5432, dbname="test")
REDIS = "redis://127.0.0.1:6379/0"
LONG_CALL = "calls/aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav"  # 4 minutes: still scoring when killed
CHAT = {"turns": [{"speaker": "AGENT", "text": "Thanks for calling, how can I help?"},
                  {"speaker": "CUSTOMER", "text": "My order has not arrived yet."},
                  {"speaker": "AGENT", "text": "I have resent it today and it will arrive tomorrow."},
                  {"speaker": "CUSTOMER", "text": "Great, thank you so much."}]}


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def postgres_url():
    """A URL of the local PostgreSQL in a schema of this test's own, dropped after it."""
    import psycopg

    for user in ("postgres", "root"):
        try:
            admin = psycopg.connect(**PG, user=user, connect_timeout=3, autocommit=True)
            break
        except psycopg.Error as e:
            problem = e
    else:
        unavailable(f"PostgreSQL not reachable at {PG['host']}:{PG['port']}/{PG['dbname']}: {problem}")
    schema = f"hs_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    yield f"postgresql+psycopg://{user}@{PG['host']}:{PG['port']}/{PG['dbname']}?options=-csearch_path%3D{schema}"
    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    admin.close()


@pytest.fixture
def redis_queue():
    """The local Redis and a Celery queue name of this test's own, deleted after it."""
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as e:
        unavailable(f"Redis not reachable at {REDIS}: {e}")
    name = f"hostscore-test-{uuid.uuid4().hex[:10]}"
    yield client, name
    client.delete(name)


class Worker:
    """A real `hostscore worker` process (Celery) on the service's data dir and settings."""

    def __init__(self, service: Service):
        self.service, self.process, self.runs = service, None, 0

    def start(self, timeout: float = 180) -> "Worker":
        self.runs += 1
        self.log_path = self.service.data_dir / f"worker-{self.runs}.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([str(REPO / ".venv" / "bin" / "hostscore"), "worker", "--data-dir",
                                             str(self.service.data_dir)], env=self.service.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the models load first, then Celery says it is ready
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            if " ready." in self.log_path.read_text():
                return self
            time.sleep(0.3)
        raise TimeoutError(f"hostscore worker not ready in {timeout} s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)


@pytest.fixture(params=["embedded", "celery"])
def stack(request, tmp_path, postgres_url):
    """The API (and for "celery" a worker process, not started) on PostgreSQL with a 5 s job lease;
    ``stack.configure(**settings)`` before starting adds HOSTSCORE_* settings."""
    env = {"HOSTSCORE_DATABASE_URL": postgres_url, "HOSTSCORE_JOB_LEASE_S": "5"}
    if request.param == "celery":
        client, name = request.getfixturevalue("redis_queue")
        env |= {"HOSTSCORE_BROKER_URL": REDIS, "HOSTSCORE_BROKER_QUEUE": name}
    api = Service(tmp_path / "data", env)
    api.data_dir.mkdir()
    api.kind = request.param
    if api.kind == "celery":
        api.ready_path = "/healthz"  # the API alone is up; it is ready once a worker answers
    api.worker = Worker(api) if request.param == "celery" else None
    api.redis = client if request.param == "celery" else None
    yield api
    if api.worker:
        api.worker.stop()
    api.stop()


def post_audio(api: Service, path: Path) -> str:
    with open(path, "rb") as f:
        posted = httpx.post(f"{api.url}/v1/calls", headers=api.headers("platform"),
                            files={"audio": (path.name, f, "audio/wav")}, timeout=120)
    assert posted.status_code == 202, posted.text
    return posted.json()["id"]


def post_chat(api: Service, n: int) -> str:
    posted = httpx.post(f"{api.url}/v1/transcripts", headers=api.headers("platform"), json={**CHAT, "id": f"chat-{n}"})
    assert posted.status_code == 202, posted.text
    return posted.json()["id"]


def call(api: Service, call_id: str) -> dict:
    return httpx.get(f"{api.url}/v1/calls/{call_id}", headers=api.headers(), timeout=30).json()


def test_worker_killed_mid_call_completes_once(stack, shared_data):
    stack.start()
    if stack.worker:
        stack.worker.start()
    call_id = post_audio(stack, shared_data / LONG_CALL)
    stack.wait_for(call_id, statuses=("IN_PROGRESS",), timeout=60)
    time.sleep(2)  # inside the pipeline
    if stack.worker:
        stack.worker.kill()
        assert call(stack, call_id)["status"] == "IN_PROGRESS"  # its lease runs out in 5 s: nobody else has it yet
        stack.worker.start()
    else:
        stack.stop(kill=True)  # the embedded worker dies with the API process
        stack.start()
    done = stack.wait_for(call_id, timeout=600)
    assert done["status"] == "COMPLETED", done["failure_reason"]
    assert done["attempts"] == 2  # the killed attempt and the one that finished
    assert done["result"]["id"] == call_id and done["result"]["scores"]["connection"]["score"] is not None
    listed = httpx.get(f"{stack.url}/v1/calls", headers=stack.headers(), timeout=30).json()["calls"]
    assert [c["id"] for c in listed] == [call_id]  # one call, one result: the kill made no second one
    # finished once, counted by whichever process ran it (a worker's counts are the API's too)
    assert 'hostscore_jobs_finished_total{status="COMPLETED"} 1.0' in httpx.get(f"{stack.url}/metrics").text


def test_failing_three_times_is_failed_with_the_reason(stack, tmp_path, resolved_stereo_8k):
    broken = tmp_path / "broken-model"  # a Whisper model folder whose model.bin is damaged
    broken.mkdir()
    (broken / "model.bin").write_bytes(os.urandom(4096))
    (broken / "config.json").write_text("{}")
    stack.env["HOSTSCORE_MODEL"] = str(broken)
    stack.ready_path = "/healthz"  # never ready with a model that will not load: up, and saying why
    stack.start()
    if stack.worker:
        stack.worker.start()
    else:  # the embedded worker tried to load the model at start-up, and readiness says why it failed
        deadline = time.monotonic() + 120
        while (ready := httpx.get(f"{stack.url}/readyz")).json()["checks"]["models"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert ready.status_code == 503 and str(broken) in ready.json()["checks"]["models"]
    call_id = post_audio(stack, resolved_stereo_8k.path)
    done = stack.wait_for(call_id, timeout=120)
    assert done["status"] == "FAILED" and done["attempts"] == 3
    assert done["failure_reason"].startswith("scoring failed 3 times; the last error: ValueError: ")
    assert str(broken) in done["failure_reason"]  # it names the model that would not load
    assert done["result"] is None


def test_restarting_the_api_loses_no_queued_call(stack, shared_data):
    stack.start()
    if stack.worker:  # no worker yet: the calls wait in the database and the broker
        chats = [post_chat(stack, n) for n in range(3)]
        assert stack.redis.llen(stack.env["HOSTSCORE_BROKER_QUEUE"]) == 3
        stack.stop()
        stack.redis.delete(stack.env["HOSTSCORE_BROKER_QUEUE"])  # and the broker lost its messages
        stack.start()  # the API's start-up sweep sends them again
        assert stack.redis.llen(stack.env["HOSTSCORE_BROKER_QUEUE"]) == 3
        stack.worker.start()
        first = []
    else:  # the one worker thread is busy on a long call while the chats wait behind it
        first = [post_audio(stack, shared_data / LONG_CALL)]
        stack.wait_for(first[0], statuses=("IN_PROGRESS",), timeout=60)
        chats = [post_chat(stack, n) for n in range(3)]
        assert {call(stack, c)["status"] for c in chats} == {"QUEUED"}
        stack.stop()  # SIGTERM: a graceful stop, mid-call
        stack.start()
    for call_id in first + chats:
        done = stack.wait_for(call_id, timeout=600)
        assert done["status"] == "COMPLETED", done["failure_reason"]
    assert all(call(stack, c)["attempts"] == 1 for c in chats)


def readiness(api: Service) -> tuple[int, str]:
    ready = httpx.get(f"{api.url}/readyz", timeout=30)
    return ready.status_code, ready.json()["checks"]["queue"]


def wait_readiness(api: Service, status_code: int) -> str:
    """What /readyz says of the queue once it answers ``status_code`` (its answer is cached CHECK_CACHE_S)."""
    deadline = time.monotonic() + CHECK_CACHE_S + 30
    while (seen := readiness(api))[0] != status_code:
        assert time.monotonic() < deadline, seen
        time.sleep(0.5)
    return seen[1]


@pytest.mark.parametrize("stack", ["celery"], indirect=True)
def test_celery_is_ready_while_a_worker_answers_and_the_workers_counts_are_the_apis(stack, shared_data):
    stack.start()
    assert wait_readiness(stack, 503).startswith("no worker answered a ping")
    stack.worker.start()
    assert wait_readiness(stack, 200) == "ok"

    chat = post_chat(stack, 0)
    assert stack.wait_for(chat)["status"] == "COMPLETED"
    counted = httpx.get(f"{stack.url}/metrics", timeout=30).text
    assert 'hostscore_uploads_total{kind="text"} 1.0' in counted  # counted by the API
    assert 'hostscore_jobs_finished_total{status="COMPLETED"} 1.0' in counted  # by the worker
    assert 'hostscore_stage_seconds_count{stage="turn_heads"} 1.0' in counted
    assert 'hostscore_calls{status="COMPLETED"} 1.0' in counted  # from the database

    busy = post_audio(stack, shared_data / LONG_CALL)
    stack.wait_for(busy, statuses=("IN_PROGRESS",), timeout=60)
    time.sleep(CHECK_CACHE_S + 1)  # the next check is made while the worker scores
    assert readiness(stack) == (200, "ok")
    assert call(stack, busy)["status"] == "IN_PROGRESS"
    stack.worker.kill()
    assert wait_readiness(stack, 503).startswith("no worker answered a ping")
