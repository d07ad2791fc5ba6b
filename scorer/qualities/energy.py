"""Energy: did the conversation feel alive and moving?

The agent's vocal liveliness (pitch variation, loudness dynamics, a pace that is neither dragging
nor rushed), proactive and positive language; against dead air and long holds; and whether the
customer's own energy rose or sank over the call.
"""

from __future__ import annotations

import numpy as np

from ..conversation import AGENT, CUSTOMER
from ..evidence import moment, span
from . import CallFacts, Feature, FeatureSpec, weighted_mean

# Speaking rate, pauses under 1 s included (characteristics.PAUSE_MS). The 5th-95th percentile,
# word-weighted, of the 40 utterances of 5+ words in the real recordings in ../shared/data/calls
# (call 40's agent and caller, the demo agent, the Azure clips) is 130-279 wpm (median 218; the
# synthesised calls 136-261): in line with conversation at about
# 210 wpm (Tauroza & Allison 1990) and with comprehension holding up to about 275 wpm (Foulke &
# Sticht 1969). Outside it a listener hears dragging or rushing.
COMFORTABLE_WPM = (130.0, 280.0)
MIN_PACE_WORDS = 30  # a pace from a sentence or two is timestamp noise
TOP_MOMENTS = 3
# The customer's energy trend compares the mood of their first and last units: fixed windows, so a
# longer middle does not move it.
TREND_UNITS = 3

# Loudness dynamics are centred on real voices: the distinct voices in ../shared/data/calls measure
# 0.3 (one man reading), 0.8 and 2.5 (call 40's agent and caller, stereo), 1.2 and 1.4 (Katie and
# Steve), 2.0 dB (the demo agent): median 1.3. The first guess, 3.0, was above every one of them, so
# "spoke at one unvarying level" lowered the energy of nearly every real call.
LOUDNESS_DYNAMICS_CENTRE_DB = 1.3

SPECS = (
    FeatureSpec("agent_pitch_variation", +1, 0.6, 2.0, 1.0,
                "agent's voice was lively and varied in pitch", "agent's voice was flat and monotone",
                "variation of the agent's pitch in semitones: a monotone voice drains a call (audio only; from 3 s of "
                "voiced speech on: a few short turns give no reliable spread)"),
    FeatureSpec("agent_loudness_dynamics", +1, 0.3, LOUDNESS_DYNAMICS_CENTRE_DB, 2.0,
                "agent's loudness varied naturally", "agent spoke at one unvarying level",
                "variation of the agent's loudness from turn to turn, in dB: real voices measure 0.3-2.5, typically 1.3 (audio only)"),
    FeatureSpec("agent_vocal_effort", +1, 0.3, -7.0, 3.0,
                "agent's voice carried energy", "agent's voice was soft and low in effort",
                "vocal effort of the agent's voice: energy at 1-3.4 kHz over 0.3-1 kHz in dB, which rises as a voice "
                "is pushed harder and does not change with the recording's gain (audio only)"),
    FeatureSpec("agent_pace_off_band", -1, 0.4, 0.0, 20.0,
                "agent spoke at a comfortable pace", "agent's pace was rushed or slow",
                "speaking rate (words per minute of utterance time, pauses under 1 s included) outside a comfortable "
                "130-280, the range of real conversational speech: dragging or rushed (from 30 words on: a sentence "
                "or two gives no reliable pace)"),
    FeatureSpec("proactive_language", +1, 0.6, 0.2, 0.15,
                "agent took ownership and drove to next steps", "agent did not take the initiative",
                "the agent taking ownership and driving to next steps (\"let me take care of that now\"); mean over "
                "the agent's units, fragments weighing little"),
    FeatureSpec("positive_language", +1, 0.4, 0.2, 0.15,
                "agent's language was upbeat and positive", "agent's language was flat or negative",
                "upbeat, positive wording from the agent (mean over units, each counted by how much feeling it "
                "carries: routine questions little)"),
    FeatureSpec("dead_air", -1, 0.7, 0.0, 0.1,
                "the call kept moving with little dead air", "dead air and holds drained the call",
                "silences of 5 s or more inside the call, as a share of it (holds included)"),
    FeatureSpec("customer_energy_trend", +1, 0.5, 0.0, 0.5,
                "the customer's energy rose over the call", "the customer's energy sank over the call",
                "the customer's mood and arousal in their last three units minus their first three", neutral=0.0),
)


def features(call: CallFacts) -> list[Feature]:
    ch = call.characteristics
    feats = []

    voice = (ch.voice or {}).get(AGENT)
    pitch_var = voice.pitch_std_st if voice else None
    by_variation = _by_pitch_variation(call)
    feats.append(Feature("agent_pitch_variation", pitch_var, "agent's voice was lively and varied in pitch",
                         "agent's voice was flat and monotone", by_variation[::-1][:TOP_MOMENTS], by_variation[:TOP_MOMENTS]))
    dynamics = voice.dynamic_range_db if voice else None
    feats.append(Feature("agent_loudness_dynamics", dynamics, "agent's loudness varied naturally",
                         "agent spoke at one unvarying level"))
    effort = voice.vocal_effort_db if voice else None
    feats.append(Feature("agent_vocal_effort", effort, "agent's voice carried energy", "agent's voice was soft and low in effort"))

    talk = ch.talk.get(AGENT)
    if call.measured("talk_speed") and talk and talk.wpm and talk.words >= MIN_PACE_WORDS:
        low, high = COMFORTABLE_WPM
        off_band = max(low - talk.wpm, talk.wpm - high, 0.0)
        feats.append(Feature("agent_pace_off_band", off_band, f"agent spoke at a comfortable pace ({talk.wpm:.0f} wpm)",
                             f"agent's pace was {'rushed' if talk.wpm > high else 'slow'} ({talk.wpm:.0f} wpm)"))
    else:
        feats.append(Feature("agent_pace_off_band", None, "", ""))

    agent_units = call.unit_indices(AGENT)
    for head, cls, name in (("proactive", "1", "proactive_language"), ("sentiment", "positive", "positive_language")):
        if agent_units:
            p, weight = call.unit_signals.p(head, cls)[agent_units], call.weights(agent_units)
            if head == "sentiment":
                # the tone of what the agent said with feeling: routine questions are neither upbeat nor
                # flat, and a longer run of them must not dilute the tone
                weight = weight * (1.0 - call.unit_signals.p("sentiment", "neutral")[agent_units])
            feats.append(Feature(name, weighted_mean(p, weight), moments=[call.unit_moment(agent_units[k]) for k in np.argsort(-p * weight)[:TOP_MOMENTS]
                                                       if p[k] >= 0.5], lowering_moments=[]))
        else:
            feats.append(Feature(name, None))

    if call.measured("silences"):
        inside = [x for x in ch.non_talk.silences if x.position == "between"]
        dead = sum(x.duration_ms for x in inside) / max(1, ch.handle_time.speech_span_ms)
        feats.append(Feature("dead_air", dead, "the call kept moving with little dead air", "dead air and holds drained the call",
                             [span("", x.begin_ms, x.end_ms, f"{x.duration_ms / 1000:.0f} s of silence") for x in inside[:TOP_MOMENTS]]))
    else:
        feats.append(Feature("dead_air", None, "", ""))

    customer_units = call.unit_indices(CUSTOMER)
    if len(customer_units) >= 2:
        u = call.unit_signals
        mood = (u.p("sentiment", "positive") - u.p("sentiment", "negative") + 0.5 * u.p("arousal", "high"))[customer_units]
        window = min(TREND_UNITS, len(customer_units) // 2)
        weight = call.weights(customer_units)
        first, last = slice(0, window), slice(len(customer_units) - window, None)
        trend = weighted_mean(mood[last], weight[last]) - weighted_mean(mood[first], weight[first])
        feats.append(Feature("customer_energy_trend", trend,
                             moments=[call.unit_moment(customer_units[0]), call.unit_moment(customer_units[-1])]))
    else:
        feats.append(Feature("customer_energy_trend", None))
    return feats


def _by_pitch_variation(call: CallFacts):
    """The agent's turns, flattest first."""
    measured = [t for t in call.characteristics.turns if t.speaker == AGENT and t.pitch_std_st is not None]
    measured.sort(key=lambda t: t.pitch_std_st)
    return [moment(call.conversation, t.index) for t in measured]
