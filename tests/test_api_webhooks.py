"""Webhooks against a real `hostscore serve`: signed deliveries to a receiver on loopback, retried after
a 500 (across a restart of the service), not retried after a 410, one delivery per finished call,
FAILED calls announced too, and nothing of one tenant's webhooks seen by another."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, Service

RETRY_BASE_S = 2.0  # long enough to restart the service between two attempts
CONVERSATION = {"turns": [
    {"speaker": "CUSTOMER", "text": "Hi, my card was charged twice for the same order.", "begin_ms": 0, "end_ms": 3000},
    {"speaker": "AGENT", "text": "I'm sorry about that. I can see both charges and I've refunded the second one now.",
     "begin_ms": 3400, "end_ms": 8000},
    {"speaker": "CUSTOMER", "text": "Great, thank you so much, that's sorted then.", "begin_ms": 8500, "end_ms": 11000},
]}


def readme_verify():
    """The receiver's check exactly as the README gives it (section Webhooks)."""
    readme = (REPO / "README.md").read_text()
    snippet = re.search(r"```python\n(import hashlib.*?def verify.*?)```", readme, re.S).group(1)
    namespace = {}
    exec(snippet, namespace)  # noqa: S102 - our own README
    return namespace["verify"]


class Receiver:
    """An HTTP server on loopback: /flaky answers 500 to the first POST and 200 after, /gone 410, any
    other path 200. Every POST is recorded with whether its signature verified (secrets by path)."""

    def __init__(self, secrets: dict[str, str]):
        self.secrets, self.received, self.verify = secrets, [], readme_verify()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                secret = receiver.secrets.get(self.path, "")
                signed = receiver.verify(body, self.headers.get("Hostscore-Signature", ""), secret)
                earlier = [r for r in receiver.received if r["path"] == self.path]
                code = {"/flaky": 500 if not earlier else 200, "/gone": 410}.get(self.path, 200)
                receiver.received.append({"path": self.path, "body": json.loads(body), "signed": signed, "code": code,
                                          "delivery": self.headers.get("Hostscore-Delivery"), "at": time.time()})
                self.send_response(code if signed else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict]:
        return [r for r in self.received if r["path"] == path]

    def wait(self, path: str, count: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{path}: {len(self.at(path))} of {count} deliveries arrived"
            time.sleep(0.1)
        return self.at(path)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("webhooks"), {"HOSTSCORE_WEBHOOK_RETRY_BASE_S": str(RETRY_BASE_S)}).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def receiver():
    made = Receiver({})
    yield made
    made.server.shutdown()


def register(service: Service, receiver: Receiver, path: str, tenant: str = "acme", secret: str | None = None) -> dict:
    body = {"url": receiver.url + path, "description": path} | ({"secret": secret} if secret else {})
    answer = httpx.post(f"{service.url}/v1/webhooks", json=body, headers=service.headers("admin", tenant), timeout=30)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    receiver.secrets[path] = made["secret"]
    return made


def deliveries(service: Service, webhook_id: str, tenant: str = "acme") -> httpx.Response:
    return httpx.get(f"{service.url}/v1/webhooks/{webhook_id}/deliveries", headers=service.headers("admin", tenant),
                     timeout=30)


def post_transcript(service: Service, conversation: dict, tenant: str = "acme") -> str:
    answer = httpx.post(f"{service.url}/v1/transcripts", json=conversation, headers=service.headers("platform", tenant),
                        timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def test_endpoints_are_an_admins_and_the_secret_is_shown_once(hooked, receiver):
    made = register(hooked, receiver, "/listed")
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    given = register(hooked, receiver, "/given", secret="a-secret-of-my-own-choosing")
    assert given["secret"] == "a-secret-of-my-own-choosing"
    listed = httpx.get(f"{hooked.url}/v1/webhooks", headers=hooked.headers("admin"), timeout=30).json()
    assert {w["id"] for w in listed} >= {made["id"], given["id"]}
    assert all("secret" not in w for w in listed)
    for role in ("platform", "supervisor"):
        assert httpx.get(f"{hooked.url}/v1/webhooks", headers=hooked.headers(role), timeout=30).status_code == 403
    refused = httpx.post(f"{hooked.url}/v1/webhooks", json={"url": "file:///etc/passwd"}, headers=hooked.headers("admin"),
                         timeout=30)
    assert refused.status_code == 422 and "url" in refused.json()["detail"]
    for w in (made, given):
        assert httpx.delete(f"{hooked.url}/v1/webhooks/{w['id']}", headers=hooked.headers("admin"), timeout=30).status_code == 204
    assert deliveries(hooked, made["id"]).status_code == 404


def test_a_completed_call_is_delivered_signed_retried_after_500_across_a_restart_and_not_after_410(hooked, receiver):
    flaky, gone = register(hooked, receiver, "/flaky"), register(hooked, receiver, "/gone")
    call_id = post_transcript(hooked, CONVERSATION)
    first = receiver.wait("/flaky", 1)[0]
    # the 500 is answered: the next attempt is RETRY_BASE_S away; the service stops before it and starts again
    hooked.stop()
    stopped_at = time.time()
    hooked.start()
    second = receiver.wait("/flaky", 2)[1]
    assert hooked.wait_for(call_id)["status"] == "COMPLETED"
    for got in (first, second):
        assert got["signed"] and got["body"] == {"id": call_id, "status": "COMPLETED"}
    assert first["delivery"] == second["delivery"]  # the same delivery, tried again
    assert second["at"] - first["at"] >= RETRY_BASE_S and second["at"] > stopped_at

    log = deliveries(hooked, flaky["id"]).json()
    assert len(log) == 1
    assert log[0]["call_id"] == call_id and log[0]["status"] == "COMPLETED" and log[0]["state"] == "delivered"
    assert log[0]["attempts"] == 2 and [a["status_code"] for a in log[0]["log"]] == [500, 200]
    assert log[0]["log"][0]["attempted_at"] < log[0]["log"][1]["attempted_at"] and log[0]["delivered_at"]

    assert len(receiver.wait("/gone", 1)) == 1
    time.sleep(RETRY_BASE_S * 2)  # a retry would have come by now
    assert len(receiver.at("/gone")) == 1 and len(receiver.at("/flaky")) == 2  # one delivery per completion
    refused = deliveries(hooked, gone["id"]).json()
    assert [(d["state"], d["attempts"], d["next_attempt_at"]) for d in refused] == [("failed", 1, None)]
    assert refused[0]["log"][0]["status_code"] == 410 and "410" in refused[0]["last_error"]
    for w in (flaky, gone):
        httpx.delete(f"{hooked.url}/v1/webhooks/{w['id']}", headers=hooked.headers("admin"), timeout=30)


def test_a_failed_call_is_announced_as_failed(hooked, receiver):
    hook = register(hooked, receiver, "/failed")
    wav = io.BytesIO()
    sf.write(wav, np.zeros(16000, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
    truncated = wav.getvalue()[:100]  # a WAV header and no audio: refused by the library at once
    answer = httpx.post(f"{hooked.url}/v1/calls", files={"audio": ("cut.wav", truncated, "audio/wav")},
                        headers=hooked.headers("platform"), timeout=30)
    assert answer.status_code == 202, answer.text
    call_id = answer.json()["id"]
    assert hooked.wait_for(call_id)["status"] == "FAILED"
    got = receiver.wait("/failed", 1)
    assert [(g["body"], g["signed"]) for g in got] == [({"id": call_id, "status": "FAILED"}, True)]
    assert [d["state"] for d in deliveries(hooked, hook["id"]).json()] == ["delivered"]
    httpx.delete(f"{hooked.url}/v1/webhooks/{hook['id']}", headers=hooked.headers("admin"), timeout=30)


def test_tenants_never_see_each_others_webhooks_or_deliveries(hooked, receiver):
    ours, theirs = register(hooked, receiver, "/acme"), register(hooked, receiver, "/globex", tenant="globex")
    acme_call = post_transcript(hooked, CONVERSATION)
    globex_call = post_transcript(hooked, CONVERSATION, tenant="globex")
    assert [g["body"]["id"] for g in receiver.wait("/acme", 1)] == [acme_call]
    assert [g["body"]["id"] for g in receiver.wait("/globex", 1)] == [globex_call]
    time.sleep(1.5)  # the background thread's next round: nothing crosses over
    assert len(receiver.at("/acme")) == 1 and len(receiver.at("/globex")) == 1

    listed = httpx.get(f"{hooked.url}/v1/webhooks", headers=hooked.headers("admin", "globex"), timeout=30).json()
    assert [w["id"] for w in listed] == [theirs["id"]]
    assert deliveries(hooked, ours["id"], tenant="globex").status_code == 404
    assert httpx.delete(f"{hooked.url}/v1/webhooks/{ours['id']}", headers=hooked.headers("admin", "globex"),
                        timeout=30).status_code == 404
    assert [d["call_id"] for d in deliveries(hooked, ours["id"]).json()] == [acme_call]
    assert [d["call_id"] for d in deliveries(hooked, theirs["id"], tenant="globex").json()] == [globex_call]


def test_a_call_whose_process_died_before_announcing_it_is_still_announced(tmp_path, receiver, scorer):
    """The worker commits a call's final status and its process dies before the job-finished hook runs
    (SIGKILL, power): the restarted service still sends its deliveries."""
    from sqlalchemy import select

    from api.db.models import Tenant
    from api.db.session import database_url, session
    from api.jobs import queue, worker
    from api.services.calls import CallMetadata, store_transcript

    service = Service(tmp_path, {"HOSTSCORE_WEBHOOK_RETRY_BASE_S": str(RETRY_BASE_S)}).start()
    hook = register(service, receiver, "/after-a-crash")
    service.stop()  # its worker must not take the calls: this process plays the worker that dies
    url = database_url(tmp_path, None)
    with session(url) as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.name == "acme"))
        scored, _ = store_transcript(s, tenant_id, {**CONVERSATION, "id": "scored"}, CallMetadata(), None)
        refused, _ = store_transcript(s, tenant_id, {**CONVERSATION, "id": "refused"}, CallMetadata(), None)
    # what a worker commits before it would call the hook; the hook never runs
    assert worker.run(url, tmp_path, scorer, queue.claim(url, scored.id), lease_s=60, attempts=3) == "COMPLETED"
    assert queue.fail(url, queue.claim(url, refused.id), "the input was bad", retry=False, attempts=3) == "FAILED"

    service.start()
    try:
        got = receiver.wait("/after-a-crash", 2)
        assert sorted((g["body"]["id"], g["body"]["status"], g["signed"]) for g in got) == sorted(
            [(scored.id, "COMPLETED", True), (refused.id, "FAILED", True)])
        assert {d["state"] for d in deliveries(service, hook["id"]).json()} == {"delivered"}
    finally:
        service.stop()
