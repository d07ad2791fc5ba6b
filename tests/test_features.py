"""Each quality's features are defined once (``SPECS``), and the code, the shipped profile and
docs/qualities.md agree with those definitions; a profile naming an unknown feature is refused."""

import json
import re
from pathlib import Path

import pytest

from scorer.qualities import PROFILE_PATH, QUALITIES, Feature, QualityModel, load_profile, registry, score_quality
from scorer.training.calibrate import default_profile

DOCS = Path(__file__).resolve().parents[1] / "docs" / "qualities.md"
HEADINGS = {"connection": "## Connection", "energy": "## Energy", "satisfaction": "## Satisfaction"}


def docs_rows(quality: str) -> dict[str, tuple[str, str]]:
    """feature -> (raises|lowers, what it measures) from the quality's table in docs/qualities.md."""
    text = DOCS.read_text()
    section = text[text.index(HEADINGS[quality]):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    return {m[0]: (m[1], m[2]) for m in re.findall(r"^\| `(\w+)` \| (raises|lowers) \| (.*) \|$", section, re.M)}


def test_feature_names_are_unique_across_qualities():
    names = [n for specs in registry().values() for n in specs]
    assert len(names) == len(set(names))


def test_every_definition_has_a_direction_a_prior_and_reasons():
    for specs in registry().values():
        for spec in specs.values():
            assert spec.sign in (1, -1) and spec.prior > 0 and spec.scale > 0, spec
            assert spec.raises and spec.lowers and spec.measures, spec


@pytest.mark.parametrize("quality", QUALITIES)
def test_docs_describe_exactly_the_defined_features(quality):
    documented = docs_rows(quality)
    defined = registry()[quality]
    assert set(documented) == set(defined)
    for name, spec in defined.items():
        assert documented[name] == ("raises" if spec.sign > 0 else "lowers", spec.measures), name


def test_the_code_computes_exactly_the_defined_features(scorer):
    result = scorer.score_conversation({"turns": [
        {"speaker": "AGENT", "text": "Thanks for calling, how can I help?", "begin_ms": 0, "end_ms": 2000},
        {"speaker": "CUSTOMER", "text": "My order never arrived and I'm upset.", "begin_ms": 2400, "end_ms": 5000},
        {"speaker": "AGENT", "text": "I'm sorry, let me send a new one today.", "begin_ms": 5400, "end_ms": 8000},
        {"speaker": "CUSTOMER", "text": "Thank you, bye.", "begin_ms": 8400, "end_ms": 9400},
    ]})
    for q in QUALITIES:
        assert set(result.scores[q].features) == set(registry()[q])


@pytest.mark.parametrize("profile", ["shipped", "default"])
def test_profiles_weigh_exactly_the_defined_features_with_their_signs(profile):
    models = load_profile(PROFILE_PATH).models if profile == "shipped" else default_profile().models
    for q in QUALITIES:
        specs = registry()[q]
        assert set(models[q].weights) == set(specs)
        for name, weight in models[q].weights.items():
            assert weight * specs[name].sign >= 0, (q, name, weight)


def test_a_profile_naming_an_unknown_feature_or_missing_one_is_refused(tmp_path):
    data = json.loads(PROFILE_PATH.read_text())
    unknown = json.loads(json.dumps(data))
    for part in ("weights", "centres", "scales"):
        unknown["models"]["connection"][part]["agent_warmth"] = 1.0
    (tmp_path / "unknown.json").write_text(json.dumps(unknown))
    with pytest.raises(ValueError, match="agent_warmth"):
        load_profile(tmp_path / "unknown.json")
    missing = json.loads(json.dumps(data))
    for part in ("weights", "centres", "scales"):
        del missing["models"]["satisfaction"][part]["customer_sentiment"]
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    with pytest.raises(ValueError, match="customer_sentiment"):
        load_profile(tmp_path / "missing.json")


def test_a_feature_without_a_weight_is_an_error_not_a_silent_zero():
    model = QualityModel(0.0, {"politeness": 0.5}, {"politeness": 0.3}, {"politeness": 0.25})
    with pytest.raises(KeyError, match="dismissiveness"):
        score_quality(model, [Feature("politeness", 0.6), Feature("dismissiveness", 0.9)])


def test_evidence_is_measured_from_the_neutral_value_where_one_is_defined():
    """A plain "bye" (close 0, the neutral value) neither raises nor lowers satisfaction, even when
    most calls in the fitting data ended with thanks (centre 0.6)."""
    model = QualityModel(0.0, {"closing_gratitude": 0.6}, {"closing_gratitude": 0.6}, {"closing_gratitude": 0.5})
    assert score_quality(model, [Feature("closing_gratitude", 0.0)]).evidence == []
    thanked = score_quality(model, [Feature("closing_gratitude", 0.9)]).evidence
    assert thanked and thanked[0].effect > 0 and "warmly" in thanked[0].reason


def test_a_lowering_reason_names_a_behaviour_only_with_a_moment_that_shows_it():
    """An agent a little less warm than the fitting data's typical call was not "curt or rude": that
    is said only with a rude reply to show for it."""
    from scorer.evidence import Moment

    model = QualityModel(0.0, {"politeness": 0.5}, {"politeness": 0.8}, {"politeness": 0.2})
    plain = score_quality(model, [Feature("politeness", 0.5, lowering_moments=[])]).evidence
    assert plain[0].effect < 0 and plain[0].reason == "agent was less warmly courteous than in a typical call, though never rude"
    rude = Moment(3, "AGENT", 9000, 11000, "That's not my problem.")
    curt = score_quality(model, [Feature("politeness", 0.5, lowering_moments=[rude])]).evidence
    assert curt[0].reason == "agent was curt or rude" and curt[0].moments == [rude]

