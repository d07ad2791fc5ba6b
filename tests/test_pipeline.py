"""End to end on synthesised calls with known truth and on the shared real recordings."""

import json

import jiwer
import numpy as np
import pytest
import soundfile as sf

from scorer import AGENT, CUSTOMER, SCHEMA_VERSION, AudioError
from scorer.synth import CallTruth

from conftest import words_of


def role_agreement(turns, truth: CallTruth) -> float:
    """Share of each truth line's transcribed words given to the right party (by word time)."""
    right = total = 0
    for line in truth.lines:
        for turn in turns:
            for w in turn.words:
                middle = (w.begin_ms + w.end_ms) / 2
                if line.begin_ms <= middle <= line.end_ms:
                    total += 1
                    right += turn.speaker == line.speaker
    return right / max(total, 1)


def wer(result, truth: CallTruth) -> float:
    """Word error rate after Whisper's own English normaliser, so that "eighty four dollars" and "$84",
    "you're" and "you are" count as the same words."""
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    reference = normalise(" ".join(line.text for line in truth.lines))
    hypothesis = normalise(" ".join(t.text for t in result.turns))
    return jiwer.wer(reference, hypothesis)


@pytest.mark.parametrize("call,method,max_wer,min_roles", [
    ("resolved_stereo_16k", "stereo-channels", 0.2, 0.97),
    # tiny.en on the band-limited espeak customer voice is the weak spot: measured 0.18 (0.04 at 16 kHz); on an
    # AMD EPYC 0.16 (0.21 while a 1.7 s stretch of skipped agent speech was too short to be decoded again)
    ("resolved_stereo_8k", "stereo-channels", 0.2, 0.97),
    ("resolved_mono_16k", "mono-diarization", 0.25, 0.9),
    ("resolved_mono_8k", "mono-diarization", 0.25, 0.9),
])
def test_call_transcribed_with_the_right_roles(scorer, request, call, method, max_wer, min_roles):
    truth = request.getfixturevalue(call)
    result = scorer.score_file(truth.path)
    assert result.call.layout == truth.layout and result.speakers.method == method
    assert wer(result, truth) < max_wer
    assert role_agreement(result.turns, truth) > min_roles
    # the agent opens, and turns alternate as scripted
    assert [t.speaker for t in result.turns][:4] == [AGENT, CUSTOMER, AGENT, CUSTOMER]
    if method == "mono-diarization":
        assert result.speakers.agent_confidence > 0.5
        assert any("thank you for calling" in e for e in result.speakers.evidence)


def test_planned_silence_and_interruption_found(scorer, angry_stereo_16k):
    truth = angry_stereo_16k
    result = scorer.score_file(truth.path)
    ch = result.characteristics
    planned = [(b, e) for b, e in truth.silences(5000) if b > 0 and e < truth.duration_ms]
    found = [s for s in ch.non_talk.silences if s.position == "between"]
    assert len(planned) == 1 and len(found) == 1
    (b, e), s = planned[0], found[0]
    assert abs(s.begin_ms - b) < 700 and abs(s.end_ms - e) < 700
    (interrupter, interrupted, ob, oe), = truth.overlaps()
    events = [x for x in ch.interruptions.events if x.interrupter == interrupter]
    assert events, "the agent's planned interruption was not found"
    assert any(x.begin_ms < oe and x.end_ms > ob for x in events)
    # and it counts against connection, with the moment as evidence
    connection = result.scores["connection"]
    assert any(ev.feature == "agent_interruptions" and ev.effect < 0 for ev in connection.evidence)


def test_outcomes_and_scores_follow_the_script(scorer, resolved_stereo_16k, deferred_stereo_16k, angry_stereo_16k):
    resolved = scorer.score_file(resolved_stereo_16k.path)
    deferred = scorer.score_file(deferred_stereo_16k.path)
    angry = scorer.score_file(angry_stereo_16k.path)
    assert resolved.outcome.status == "resolved"
    assert deferred.outcome.status == "deferred"
    assert angry.outcome.status != "resolved"
    sat = {name: r.scores["satisfaction"].score for name, r in
           (("resolved", resolved), ("deferred", deferred), ("angry", angry))}
    assert sat["resolved"] > sat["deferred"] > sat["angry"], sat
    assert resolved.scores["connection"].score > angry.scores["connection"].score
    assert deferred.outcome.effort.score > resolved.outcome.effort.score


def test_a_customer_refused_and_sent_away_is_unresolved(scorer, angry_stereo_16k):
    # the agent refuses to help and sends the customer away ("There's no manager available right now. You
    # can call back tomorrow."): nothing resolved, nothing promised, no transfer
    assert scorer.score_file(angry_stereo_16k.path).outcome.status == "unresolved"


def test_result_json_follows_the_schema(scorer, resolved_stereo_16k):
    result = scorer.score_file(resolved_stereo_16k.path)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert set(data) >= {"call", "turns", "characteristics", "scores", "outcome", "handle_time_ms", "models", "skipped"}
    assert data["call"]["channels"] == 2 and data["call"]["sample_rate"] == 16000
    assert abs(data["call"]["duration_ms"] - resolved_stereo_16k.duration_ms) < 50
    assert data["models"]["transcription"]["engine"] == "faster-whisper"
    assert data["models"]["transcription"]["device"] in ("cpu", "cuda")
    for turn in data["turns"]:
        assert turn["speaker"] in (AGENT, CUSTOMER) and turn["end_ms"] >= turn["begin_ms"]
        assert turn["words"] and "sentiment" in turn["signals"]
    for quality in ("connection", "energy", "satisfaction"):
        s = data["scores"][quality]
        assert s["evidence"], f"{quality} has no evidence"
        for e in s["evidence"]:
            assert e["reason"]
            for m in e["moments"]:
                assert 0 <= m["begin_ms"] <= m["end_ms"] <= data["call"]["duration_ms"] + 1000
                if m["turn"] >= 0:  # a turn, or one party's turns said in one go: its party, start and words
                    turn = data["turns"][m["turn"]]
                    said = " ".join(t["text"] for t in data["turns"][m["turn"]:] if t["speaker"] == turn["speaker"])
                    assert (m["speaker"], m["begin_ms"]) == (turn["speaker"], turn["begin_ms"])
                    assert words_of(said).startswith(words_of(m["quote"].rstrip("…"))), (m, said)
    assert data["outcome"]["status"] in ("resolved", "deferred", "transferred", "unresolved")
    assert data["handle_time_ms"] == data["characteristics"]["handle_time"]["duration_ms"]


def test_text_conversation_reports_what_needs_audio_as_skipped(scorer):
    data = {"turns": [
        {"speaker": "AGENT", "text": "Thank you for calling, how can I help?"},
        {"speaker": "CUSTOMER", "text": "My internet has been down for two days and I work from home."},
        {"speaker": "AGENT", "text": "I'm so sorry, that must be really stressful. Let me fix that right now."},
        {"speaker": "CUSTOMER", "text": "Thank you, it's working again. You've been a great help."},
    ]}
    result = scorer.score_conversation(data)
    out = result.to_dict()
    assert "audio" in out["skipped"] and "timestamps" in out["skipped"]
    assert out["handle_time_ms"] is None and out["characteristics"]["talk"]["AGENT"]["talk_ms"] is None
    assert out["scores"]["energy"]["features"]["agent_pitch_variation"] is None
    assert out["outcome"]["status"] == "resolved"
    with pytest.raises(ValueError, match="speaker"):
        scorer.score_conversation({"turns": [{"speaker": "BOT", "text": "hi"}]})


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zero_bytes", "text_as_wav", "truncated_wav"])
def test_unreadable_files_give_a_clear_error(scorer, bad_inputs, name):
    path = bad_inputs[name]
    with pytest.raises(AudioError) as error:
        scorer.score_file(path)
    assert path.name in str(error.value)


def test_ten_minutes_of_silence_gives_an_empty_result_that_says_why(scorer, bad_inputs):
    result = scorer.score_file(bad_inputs["silence_10min"])
    assert result.turns == [] and result.outcome is None
    assert all(s is None for s in result.scores.values())
    assert "speech" in result.skipped
    assert result.to_dict()["scores"]["satisfaction"] is None


def test_dead_channel_is_reported_and_the_live_side_scored(scorer, bad_inputs):
    result = scorer.score_file(bad_inputs["dead_channel"])
    assert "channel.right" in result.skipped and "silent" in result.skipped["channel.right"]
    assert result.turns and {t.speaker for t in result.turns} == {AGENT}


def test_too_long_call_is_refused_before_decoding(bad_inputs):
    from scorer import Scorer

    with pytest.raises(AudioError, match="long"):
        Scorer(max_duration_s=60).score_file(bad_inputs["silence_10min"])


# --- real recordings ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def call40(shared_data):
    return shared_data / "calls" / "aws_lca_Auto_Repairs_40_STEREO_agentL_callerR.wav"


def test_real_stereo_call_agent_left_customer_right(scorer, call40):
    result = scorer.score_file(call40)
    audio, rate = sf.read(call40, dtype="float32")
    assert {t.speaker for t in result.turns} == {AGENT, CUSTOMER}
    for turn in result.turns:
        piece = audio[int(turn.begin_ms * rate / 1000): int(turn.end_ms * rate / 1000)]
        left, right = np.sqrt((piece ** 2).mean(axis=0))
        assert (left > right) == (turn.speaker == AGENT), turn.text
    assert words_of(result.turns[0].text).startswith("thank you for calling")
    assert result.turns[0].speaker == AGENT


def test_real_call_mono_mixdown_gives_the_same_roles(scorer, call40, tmp_path):
    audio, rate = sf.read(call40, dtype="float32")
    mono = tmp_path / "call40_mono.wav"
    sf.write(mono, audio.mean(axis=1), rate, subtype="PCM_16")
    stereo = scorer.score_file(call40)
    mixed = scorer.score_file(mono)
    frames = np.zeros((2, stereo.call.duration_ms // 10 + 1), dtype=int)  # 10 ms frames: role 1 agent, 2 customer
    for row, result in enumerate((stereo, mixed)):
        for turn in result.turns:
            for w in turn.words:
                frames[row, w.begin_ms // 10: w.end_ms // 10] = 1 if turn.speaker == AGENT else 2
    both = (frames[0] > 0) & (frames[1] > 0)
    agreement = (frames[0][both] == frames[1][both]).mean()
    print(f"mono mixdown role agreement over {both.sum() / 100:.0f} s of speech: {agreement:.3f}")
    assert agreement >= 0.9


@pytest.mark.parametrize("subtype,rate", [("PCM_U8", 8000), ("PCM_16", 8000), ("PCM_16", 16000), ("ULAW", 8000)])
def test_real_call_decodes_at_telephone_encodings(scorer, call40, tmp_path, subtype, rate):
    import soxr

    audio, source_rate = sf.read(call40, dtype="float32", frames=8000 * 20)
    if rate != source_rate:
        audio = soxr.resample(audio, source_rate, rate)
    path = tmp_path / f"call40_{subtype}_{rate}.wav"
    sf.write(path, audio, rate, subtype=subtype)
    result = scorer.score_file(path)
    assert result.call.sample_rate == rate and result.turns
    assert result.turns[0].speaker == AGENT


def test_text_conversation_accepts_the_usual_speaker_names(scorer):
    data = {"turns": [{"speaker": "system", "text": "Hello, how can I help?"},
                      {"speaker": "User", "text": "I need to change my flight."}]}
    assert [t.speaker for t in scorer.score_conversation(data).turns] == [AGENT, CUSTOMER]
