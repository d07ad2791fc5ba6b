"""Energy: did the conversation feel alive and moving?

The agent's vocal liveliness (pitch variation, loudness dynamics, a pace that is neither dragging
nor rushed), proactive and positive language; against dead air and long holds; and whether the
customer's own energy rose or sank over the call.
"""

from __future__ import annotations

import numpy as np

from ..conversation import AGENT, CUSTOMER
from ..evidence import moment, span
from . import CallFacts, Feature

COMFORTABLE_WPM = (130.0, 175.0)
MIN_PACE_WORDS = 30  # a pace from a sentence or two is timestamp noise
TOP_MOMENTS = 3


def features(call: CallFacts) -> list[Feature]:
    s, conv, ch = call.signals, call.conversation, call.characteristics
    agent, customer = call.indices(AGENT), call.indices(CUSTOMER)
    feats = []

    voice = (ch.voice or {}).get(AGENT)
    pitch_var = voice.pitch_std_st if voice else None
    by_variation = _by_pitch_variation(call)
    feats.append(Feature("agent_pitch_variation", pitch_var, "agent's voice was lively and varied in pitch",
                         "agent's voice was flat and monotone", by_variation[::-1][:TOP_MOMENTS], by_variation[:TOP_MOMENTS]))
    dynamics = voice.dynamic_range_db if voice else None
    feats.append(Feature("agent_loudness_dynamics", dynamics, "agent's loudness varied naturally",
                         "agent spoke at one unvarying level"))
    level = voice.loudness_dbfs if voice else None
    feats.append(Feature("agent_loudness", level, "agent spoke out clearly", "agent's voice was quiet and subdued"))

    talk = ch.talk.get(AGENT)
    if call.measured("talk_speed") and talk and talk.wpm and talk.words >= MIN_PACE_WORDS:
        low, high = COMFORTABLE_WPM
        off_band = max(low - talk.wpm, talk.wpm - high, 0.0)
        feats.append(Feature("agent_pace_off_band", off_band, f"agent spoke at a comfortable pace ({talk.wpm:.0f} wpm)",
                             f"agent's pace was {'rushed' if talk.wpm > high else 'slow'} ({talk.wpm:.0f} wpm)"))
    else:
        feats.append(Feature("agent_pace_off_band", None, "", ""))

    for head, cls, name, raises, lowers in (
        ("proactive", "1", "proactive_language", "agent took ownership and drove to next steps", "agent did not take the initiative"),
        ("sentiment", "positive", "positive_language", "agent's language was upbeat and positive", "agent's language was flat or negative"),
    ):
        if agent:
            p = s.p(head, cls)[agent]
            feats.append(Feature(name, float(p.mean()), raises, lowers,
                                 [moment(conv, agent[k]) for k in np.argsort(-p)[:TOP_MOMENTS] if p[k] >= 0.5], []))
        else:
            feats.append(Feature(name, None, raises, lowers))

    if call.measured("silences"):
        inside = [x for x in ch.non_talk.silences if x.position == "between"]
        dead = sum(x.duration_ms for x in inside) / max(1, ch.handle_time.speech_span_ms)
        feats.append(Feature("dead_air", dead, "the call kept moving with little dead air", "dead air and holds drained the call",
                             [span("", x.begin_ms, x.end_ms, f"{x.duration_ms / 1000:.0f} s of silence") for x in inside[:TOP_MOMENTS]]))
    else:
        feats.append(Feature("dead_air", None, "", ""))

    if len(customer) >= 2:
        mood = s.p("sentiment", "positive")[customer] - s.p("sentiment", "negative")[customer] + 0.5 * s.p("arousal", "high")[customer]
        half = len(customer) // 2
        trend = float(mood[half:].mean() - mood[:half].mean())
        feats.append(Feature("customer_energy_trend", trend, "the customer's energy rose over the call",
                             "the customer's energy sank over the call", [moment(conv, customer[0]), moment(conv, customer[-1])]))
    else:
        feats.append(Feature("customer_energy_trend", None, "", ""))
    return feats


def _by_pitch_variation(call: CallFacts):
    """The agent's turns, flattest first."""
    measured = [t for t in call.characteristics.turns if t.speaker == AGENT and t.pitch_std_st is not None]
    measured.sort(key=lambda t: t.pitch_std_st)
    return [moment(call.conversation, t.index) for t in measured]
