"""The REST API against a real `hostscore serve` process on loopback: what a contact-centre platform
posts, what a supervisor reads, and what a stranger cannot do."""

import json

import time

import httpx
import jsonschema
import pytest

from api.schemas import CallDetail
from conftest import Service

CHAT = {"turns": [
    {"speaker": "AGENT", "text": "Thanks for calling Brightline, this is Dana, how can I help?"},
    {"speaker": "CUSTOMER", "text": "My card was declined twice today and I'm really annoyed."},
    {"speaker": "AGENT", "text": "I'm sorry, that's frustrating. I can see a fraud hold, I've lifted it now, so it will work."},
    {"speaker": "CUSTOMER", "text": "Oh great, thank you so much, that's sorted then."},
]}


def post_chat(service: Service, conversation=CHAT, role="admin", tenant="acme", **params) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/transcripts", json=conversation, params=params,
                      headers=service.headers(role, tenant), timeout=30)


def assert_result_as_documented(service: Service, call: dict) -> None:
    """The result validates against the served OpenAPI document's type for it (the library's model)."""
    document = httpx.get(f"{service.url}/openapi.json", timeout=30).json()
    result_type = document["components"]["schemas"]["CallDetail"]["properties"]["result"]["anyOf"][0]
    jsonschema.validate(call["result"], {**result_type, "components": document["components"]})


def test_a_text_conversation_scores_as_the_library_scores_it(service, scorer):
    posted = post_chat(service, {"id": "chat-1", **CHAT}, role="platform")
    assert posted.status_code == 202, posted.text
    assert posted.json()["status"] == "QUEUED"
    assert posted.headers["Location"] == f"/v1/calls/{posted.json()['id']}"
    call = service.wait_for(posted.json()["id"], role="platform")
    assert call["status"] == "COMPLETED", call
    expected = scorer.score_conversation({"id": "chat-1", **CHAT}).to_dict()
    for quality in ("connection", "energy", "satisfaction"):
        assert call[quality] == pytest.approx(expected["scores"][quality]["score"], abs=0.1)
        assert call["result"]["scores"][quality]["evidence"] == expected["scores"][quality]["evidence"]
    assert call["outcome"] == expected["outcome"]["status"] == "resolved"
    assert call["result"]["id"] == call["external_id"] == "chat-1"
    assert_result_as_documented(service, call)
    assert set(call) == set(CallDetail.model_fields)  # the stored result is put in beside the rest as documented


def test_a_recording_is_scored_and_served_back_with_ranges(service, resolved_stereo_8k):
    audio = resolved_stereo_8k.path.read_bytes()
    posted = httpx.post(f"{service.url}/v1/calls", headers=service.headers("platform"),
                        files={"audio": ("resolved.wav", audio, "application/octet-stream")},
                        data={"agent_id": "a-7", "agent_name": "Sam", "team": "billing", "queue": "cards",
                              "direction": "inbound", "started_at": "2026-11-30T09:15:00+00:00",
                              "labels": json.dumps({"csat": 5})}, timeout=60)
    assert posted.status_code == 202, posted.text
    call = service.wait_for(posted.json()["id"])
    assert call["status"] == "COMPLETED", call["failure_reason"]
    assert (call["agent_id"], call["team"], call["labels"], call["filename"]) == ("a-7", "billing", {"csat": 5}, "resolved.wav")
    assert call["media_type"] == "audio/wav" and call["size_bytes"] == len(audio)
    assert call["result"]["call"]["layout"] == "stereo" and call["outcome"] == "resolved"
    assert call["handle_time_ms"] == call["result"]["handle_time_ms"] > 0
    assert_result_as_documented(service, call)
    whole = httpx.get(f"{service.url}/v1/calls/{call['id']}/audio", headers=service.headers("supervisor"))
    assert whole.status_code == 200 and whole.content == audio
    part = httpx.get(f"{service.url}/v1/calls/{call['id']}/audio",
                     headers={**service.headers("supervisor"), "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == audio[100:200]


def test_a_retried_upload_returns_the_first_call(service):
    key = {"Idempotency-Key": "upload-42", **service.headers("platform")}
    one = httpx.post(f"{service.url}/v1/transcripts", json=CHAT, headers=key)
    two = httpx.post(f"{service.url}/v1/transcripts", json=CHAT, headers=key)
    assert one.status_code == 202 and two.status_code == 200
    assert one.json()["id"] == two.json()["id"]
    by_id = [post_chat(service, {"id": "ext-9", **CHAT}) for _ in range(2)]
    assert by_id[0].json()["id"] == by_id[1].json()["id"] and by_id[1].status_code == 200


def test_what_is_not_a_recording_is_refused_from_its_bytes(service, bad_inputs):
    text = httpx.post(f"{service.url}/v1/calls", headers=service.headers(),
                      files={"audio": ("call.wav", bad_inputs["text_as_wav"].read_bytes(), "audio/wav")})
    assert text.status_code == 415
    assert text.json()["detail"].startswith("call.wav: not a recording hostscore can read: the file is text")
    empty = httpx.post(f"{service.url}/v1/calls", headers=service.headers(), files={"audio": ("e.wav", b"", "audio/wav")})
    assert empty.status_code == 415 and "empty" in empty.json()["detail"]


def test_a_damaged_recording_fails_with_the_reason_naming_it(service, bad_inputs):
    posted = httpx.post(f"{service.url}/v1/calls", headers=service.headers(),
                        files={"audio": ("cut.wav", bad_inputs["truncated_wav"].read_bytes(), "audio/wav")})
    assert posted.status_code == 202
    call = service.wait_for(posted.json()["id"])
    assert call["status"] == "FAILED" and call["attempts"] == 1  # bad input is not retried
    assert call["failure_reason"].startswith("cut.wav: ") and "\n" not in call["failure_reason"]
    assert str(service.data_dir) not in call["failure_reason"]


def test_a_transcript_of_the_wrong_shape_is_refused_with_the_turn_and_field(service):
    bad = post_chat(service, {"turns": [{"speaker": "AGENT", "text": "hi"}, {"speaker": "CUSTOMER", "text": None}]})
    assert bad.status_code == 422 and "turns[1].text" in bad.json()["detail"]


def test_keys_roles_and_tenants(service):
    call_id = post_chat(service).json()["id"]
    assert httpx.get(f"{service.url}/v1/calls").status_code == 401
    assert httpx.get(f"{service.url}/v1/calls", headers={"Authorization": "Bearer hs_0_0"}).status_code == 401
    assert post_chat(service, role="supervisor").status_code == 403
    service.wait_for(call_id)
    review = httpx.post(f"{service.url}/v1/calls/{call_id}/reviews", json={"note": "x"}, headers=service.headers("platform"))
    assert review.status_code == 403
    other = service.headers("admin", tenant="globex")
    for path in (f"/v1/calls/{call_id}", f"/v1/calls/{call_id}/audio", f"/v1/calls/{call_id}/reviews"):
        assert httpx.get(service.url + path, headers=other).status_code == 404
    assert httpx.delete(f"{service.url}/v1/calls/{call_id}", headers=other).status_code == 404
    assert httpx.get(f"{service.url}/v1/calls", headers=other).json()["calls"] == []
    assert httpx.get(f"{service.url}/v1/calls/{call_id}", headers=service.headers()).status_code == 200
    key_id = service.key("platform", tenant="revoked").split("_")[1]
    service.hostscore("keys", "revoke", key_id)
    assert httpx.get(f"{service.url}/v1/calls", headers=service.headers("platform", "revoked")).status_code == 401


def test_listing_filters_and_pages_through_every_call(service):
    tenant = "listing"
    ids = {post_chat(service, tenant=tenant, agent_id=agent, team="t1").json()["id"]: agent
           for agent in ("ann", "bob", "ann")}
    for call_id in ids:
        service.wait_for(call_id, tenant=tenant)
    headers = service.headers("supervisor", tenant)
    seen, cursor = [], None
    while True:
        page = httpx.get(f"{service.url}/v1/calls", params={"limit": 1, **({"cursor": cursor} if cursor else {})},
                         headers=headers).json()
        seen += [c["id"] for c in page["calls"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    ann = httpx.get(f"{service.url}/v1/calls", params={"agent_id": "ann"}, headers=headers).json()["calls"]
    assert sorted(c["id"] for c in ann) == sorted(i for i, a in ids.items() if a == "ann")
    score = ann[0]["satisfaction"]
    above = httpx.get(f"{service.url}/v1/calls", params={"min_satisfaction": score + 1}, headers=headers).json()["calls"]
    assert above == []
    assert len(httpx.get(f"{service.url}/v1/calls", params={"max_satisfaction": score, "status": "COMPLETED"},
                         headers=headers).json()["calls"]) == 3
    assert httpx.get(f"{service.url}/v1/calls", params={"cursor": "nonsense"}, headers=headers).status_code == 422


def test_a_review_overrides_a_score_and_keeps_the_machines(service):
    call = service.wait_for(post_chat(service).json()["id"])
    url = f"{service.url}/v1/calls/{call['id']}/reviews"
    made = httpx.post(url, json={"note": "the customer sounded fed up", "overrides": {"satisfaction": 35, "outcome": "deferred"}},
                      headers=service.headers("supervisor"))
    assert made.status_code == 201, made.text
    assert made.json()["machine"] == {"satisfaction": call["satisfaction"], "outcome": call["outcome"]}
    listed = httpx.get(url, headers=service.headers("platform")).json()
    assert [r["note"] for r in listed] == ["the customer sounded fed up"] and listed[0]["author"].startswith("acme/")
    assert httpx.get(f"{service.url}/v1/calls/{call['id']}", headers=service.headers()).json()["reviewed"] is True
    for bad in ({"satisfaction": 140}, {"outcome": "great"}, {"speed": 3}):
        assert httpx.post(url, json={"overrides": bad}, headers=service.headers("supervisor")).status_code == 422


def test_delete_removes_the_recording_and_the_result(service, resolved_stereo_8k):
    posted = httpx.post(f"{service.url}/v1/calls", headers=service.headers("platform"),
                        files={"audio": ("r.wav", resolved_stereo_8k.path.read_bytes(), "audio/wav")})
    call_id = posted.json()["id"]
    stored = list((service.data_dir / "audio").rglob(f"{call_id}.*"))
    assert len(stored) == 1
    assert httpx.delete(f"{service.url}/v1/calls/{call_id}", headers=service.headers("platform")).status_code == 204
    assert not stored[0].exists()
    assert httpx.get(f"{service.url}/v1/calls/{call_id}", headers=service.headers()).status_code == 404


def test_an_upload_over_the_limit_is_refused(tmp_path):
    small = Service(tmp_path, {"HOSTSCORE_MAX_UPLOAD_MB": "0.01"}).start()
    try:
        big = b"RIFF" + b"\0" * 4 + b"WAVE" + b"\0" * 20000
        refused = httpx.post(f"{small.url}/v1/calls", headers=small.headers(), files={"audio": ("big.wav", big, "audio/wav")})
        assert refused.status_code == 413 and "limit" in refused.json()["detail"]
        assert not list((tmp_path / "audio").rglob("*.wav"))  # nothing half-written is left
    finally:
        small.stop()


def test_health_readiness_and_metrics(service):
    assert httpx.get(f"{service.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "queue": "ok", "models": "loaded"}
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'hostscore_calls{status="COMPLETED"}' in metrics
    assert 'hostscore_uploads_total{kind="text"}' in metrics and 'hostscore_uploads_total{kind="audio"}' in metrics
    assert 'hostscore_stage_seconds_count{stage="transcription"}' in metrics
    assert "/v1/calls" in httpx.get(f"{service.url}/openapi.json").json()["paths"]


def test_every_answer_says_how_long_the_service_took(service):
    """Server-Timing (``app;dur=`` milliseconds): the service's own time, apart from the network's."""
    started = time.perf_counter()
    answer = httpx.get(f"{service.url}/v1/calls/no-such-call", headers=service.headers())
    took_ms = (time.perf_counter() - started) * 1000
    assert answer.status_code == 404
    name, duration = answer.headers["server-timing"].split(";dur=")
    assert name == "app" and 0 < float(duration) <= took_ms


def test_the_agent_channel_given_with_an_upload_is_obeyed_and_checked(service, resolved_stereo_8k):
    """The recorder put the agent on the left; the platform says right: the roles follow the setting, and
    the cues that contradict it are said, with a low confidence."""
    posted = httpx.post(f"{service.url}/v1/calls", headers=service.headers("platform"), data={"agent_channel": "right"},
                        files={"audio": ("swapped.wav", resolved_stereo_8k.path.read_bytes(), "audio/wav")})
    call = service.wait_for(posted.json()["id"])
    speakers = call["result"]["speakers"]
    assert call["agent_channel"] == "right" and speakers["agent_channel"] == "right"
    assert speakers["agent_confidence"] < 0.5 and "warning" in speakers["evidence"][0]
