"""The result JSON against its pydantic models and exported JSON Schema, on real results."""

import copy
import json
import shutil
from importlib import metadata

import jsonschema
import pytest
from pydantic import ValidationError

from scorer import SCHEMA_VERSION, Scorer, schema
from scorer.heads import HEADS_PATH
from scorer.training.corpus import conversations


@pytest.fixture(scope="module")
def text_result(scorer) -> dict:
    return json.loads(json.dumps(scorer.score_conversation(conversations()[0]).to_dict()))


@pytest.fixture(scope="module")
def audio_result(scorer, resolved_stereo_8k) -> dict:
    return json.loads(json.dumps(scorer.score_file(resolved_stereo_8k.path).to_dict()))


@pytest.mark.parametrize("which", ["text_result", "audio_result"])
def test_a_result_is_exactly_the_model(request, which):
    result = request.getfixturevalue(which)
    assert schema.validate(result).model_dump(mode="json") == result  # nothing added, dropped or changed
    jsonschema.validate(result, schema.json_schema())
    assert result["schema_version"] == SCHEMA_VERSION


def test_each_result_times_its_own_stages(text_result, audio_result):
    assert set(text_result["timings"]) == {"characteristics", "turn_heads", "qualities"}
    assert set(audio_result["timings"]) >= {"audio", "transcription", "speakers", "characteristics", "turn_heads"}
    assert all(seconds >= 0 for seconds in audio_result["timings"].values())
    assert not hasattr(Scorer, "timings")


def removed(result: dict, path: tuple) -> dict:
    broken = copy.deepcopy(result)
    parent = broken
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return broken


@pytest.mark.parametrize("path", [("outcome", "effort", "score"), ("characteristics", "talk", "AGENT", "wpm"),
                                  ("turns", 0, "signals"), ("models", "heads_sha256"), ("timings",)])
def test_the_model_refuses_a_result_with_a_field_removed(audio_result, path):
    with pytest.raises(ValidationError):
        schema.validate(removed(audio_result, path))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(removed(audio_result, path), schema.json_schema())


@pytest.mark.parametrize("path", [("turns", 0, "words", 0, "probability"), ("speakers", "evidence")])
def test_the_json_schema_requires_fields_that_have_defaults(audio_result, path):
    """Every result writes them: a client may rely on them being there."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(removed(audio_result, path), schema.json_schema())


def test_the_model_refuses_an_unknown_field(text_result):
    for place in (lambda r: r, lambda r: r["characteristics"]["talk"]["AGENT"], lambda r: r["models"],
                  lambda r: r["turns"][0]):
        broken = copy.deepcopy(text_result)
        place(broken)["colour"] = "blue"
        with pytest.raises(ValidationError):
            schema.validate(broken)


def test_a_text_result_has_no_transcription_model_and_an_audio_one_has(text_result, audio_result):
    assert "transcription" not in text_result["models"]
    assert audio_result["models"]["transcription"]["engine"] == "faster-whisper"


def test_results_record_the_versions_that_made_them(tmp_path, text_result):
    models = text_result["models"]
    assert models["hostscore"] == metadata.version("hostscore")
    assert models["heads"] == "heads.json" and models["profile"] == "hostscore v1"
    # retrained heads (here the same weights with other training notes) are told apart by their hash
    for name in ("outcome.json", "profile.json"):
        shutil.copy(HEADS_PATH.parent / name, tmp_path / name)
    heads = json.loads(HEADS_PATH.read_text())
    heads["meta"]["seed"] = 1
    (tmp_path / "heads.json").write_text(json.dumps(heads))
    retrained = Scorer(models_dir=tmp_path).versions
    assert retrained["heads_sha256"] != models["heads_sha256"]
    assert retrained["outcome_sha256"] == models["outcome_sha256"]
    assert len(retrained["heads_sha256"]) == 12
