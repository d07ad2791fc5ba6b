"""Connection: did the agent make the customer feel heard?

Acknowledgement and empathy when the customer is upset, exploring and reflecting what the customer
said, using the customer's name and words, politeness; against talking over the customer, leaving
them waiting for an answer, dismissing them, and a lopsided exchange.

Judged on units (a party's fragments joined), each agent reply with the customer unit it answers:
a reply to an upset customer counts most, a reply to a bare "okay" little.
"""

from __future__ import annotations

import numpy as np

from ..conversation import AGENT, CUSTOMER
from ..evidence import span
from ..heads import in_proportion
from . import CallFacts, Feature, FeatureSpec, weighted_mean

UPSET = 0.5  # customer units the sentiment head calls negative with this probability
# ... read in proportion this close to UPSET: a hard line let one unit at 0.52 (a spelled-out surname)
# decide which replies count, moving a real call's connection by 9 points
UPSET_MARGIN = 0.05
TOP_MOMENTS = 3
MIN_TURNS_FOR_BALANCE = 6  # balance is a property of an exchange, not of a single reply
SHOWN = 0.5  # a unit is quoted as an example of a judgement from this probability on
# ... and as the customer being upset from this one: on held-out customer lines the sentiment head is
# right 97% of the time from 0.65 on, against 86% at 0.55-0.65, where calm negations sit ("it's not
# making any crazy noises yet, so I'm not terrified", 0.59, quoted as upset on a real call)
UPSET_SHOWN = 0.65
# An agent question that clearly asks what the customer is going through ("What happened?", "Do you
# know why?") is listening, not a brush-off, though the dismissive head hears any short reply as one
# (0.64 and 0.82). Spared in proportion from 0.7 to 0.9 of the exploring head: "I'm sorry you feel
# that way, is there anything else?" reads 0.68 and is still a brush-off.
CLEARLY_EXPLORING = 0.8
EXPLORING_MARGIN = 0.1

SPECS = (
    FeatureSpec("acknowledgement", +1, 0.9, 0.25, 0.2,
                "agent acknowledged the customer's feelings and situation",
                "agent rarely acknowledged the customer's feelings, even when they were upset",
                "empathy in the agent's reply to each customer unit: acknowledging or reflecting (\"that sounds "
                "frustrating after waiting all week\"); each reply "
                "counts by how upset the customer it answers was (squared; when the customer was upset at all, only those "
                "replies count, read in proportion near the line, a fragment's by its words), a reply to a bare \"okay\" little",
                lowers_unshown="agent acknowledged the customer's feelings and situation less than in a typical call"),
    FeatureSpec("exploring", +1, 0.5, 0.1, 0.2,
                "agent asked about the customer's situation and feelings",
                "agent rarely asked about the customer's situation or feelings",
                "active listening by asking: how clearly each agent reply asks about what the customer is going "
                "through (\"what happened?\", \"how are you holding up?\", \"what worries you most?\"), read by a head "
                "trained on agent questions, a factual question (\"and your postcode?\") or a statement counting nothing "
                "(one that opens like a question, \"What I can do is...\", \"Have a great day.\", is a statement); "
                "weighted like acknowledgement",
                lowers_unshown="agent asked about the customer's situation less than in a typical call"),
    FeatureSpec("builds_on_customer", +1, 0.3, 0.35, 0.1,
                "agent's replies built on what the customer said",
                "agent's replies did not pick up what the customer said",
                "active listening: how closely each agent reply takes up the customer unit it answers "
                "(encoder similarity), weighted like acknowledgement"),
    FeatureSpec("personalisation", +1, 0.4, 0.15, 0.1,
                "agent used the customer's name and details", "agent rarely used the customer's name and details",
                "the agent using the customer's name and details (mean over the agent's units; fragments weigh little)"),
    FeatureSpec("politeness", +1, 0.5, 0.3, 0.25,
                "agent was courteous throughout", "agent was curt or rude",
                "courteous minus rude language from the agent (mean over units, each counted by how clearly, beyond even "
                "odds, it is either; a one- or two-word fragment weighs a third or less)",
                lowers_unshown="agent was less warmly courteous than in a typical call, though never rude"),
    FeatureSpec("dismissiveness", -1, 0.8, 0.1, 0.1,
                "agent stayed engaged with the problem", "agent brushed the customer off",
                "share of the agent's words said in brush-offs (\"nothing I can do\", \"not my department\", "
                "blaming), each unit counted by how sure the head is; a question clearly asking what the customer "
                "is going through (\"what happened?\") is listening, not a brush-off",
                lowers_unshown="agent engaged with the problem less than in a typical call"),
    FeatureSpec("agent_interruptions", -1, 0.6, 0.0, 1.0,
                "agent let the customer finish", "agent talked over the customer",
                "the agent taking the floor while the customer is still speaking (per 5 minutes; backchannels "
                "like \"mm-hmm\" do not count)"),
    FeatureSpec("response_latency", -1, 0.4, 1.0, 1.0,
                "agent answered promptly", "customer was left waiting for answers",
                "how long the customer waits for the agent to answer (median seconds)"),
    FeatureSpec("talk_imbalance", -1, 0.3, 0.15, 0.1,
                "a balanced exchange", "one party did most of the talking",
                "how far the agent's share of the words is from half"),
)


def features(call: CallFacts) -> list[Feature]:
    s, units = call.unit_signals, call.units
    agent = call.unit_indices(AGENT)
    feats = []

    replies = call.replies()
    if replies:
        # the customer's need: what they said (a bare "okay" asks for little) and how upset they were,
        # squared so that clearly upset moments dominate and a longer run of routine questions does not
        # dilute them
        upset_p = s.p("sentiment", "negative")
        need = np.array([units[c].weight * upset_p[c] ** 2 for c, _ in replies])
        # when the customer was upset, those replies are the acknowledgement: a long run of routine
        # answers elsewhere in the call must not dilute them. By as much as the clearest of them was upset,
        # and a fragment ("F-I-T-I-L-L-E.") says too little to decide that.
        upset_share = in_proportion(upset_p[[c for c, _ in replies]], UPSET, UPSET_MARGIN)
        clearest = float((upset_share * [units[c].weight for c, _ in replies]).max())
        need = need * ((1 - clearest) + clearest * upset_share)
        empathy = np.array([s.p("empathy", "1")[a] for _, a in replies])
        shown = [call.unit_moment(replies[k][1]) for k in np.argsort(-empathy)[:TOP_MOMENTS] if empathy[k] >= 0.3]
        clearly_upset = sorted((c for c, _ in replies if upset_p[c] >= UPSET_SHOWN), key=lambda c: -upset_p[c])
        upset = [call.unit_moment(c) for c in clearly_upset[:TOP_MOMENTS]]
        feats.append(Feature("acknowledgement", weighted_mean(empathy, need), moments=shown, lowering_moments=upset))
        # asking is listening, and an inviting question is short: the empathy head, which hears feelings in
        # statements, reads "what happened?" as routine
        asking = np.array([s.p("exploring", "1")[a] for _, a in replies])
        feats.append(Feature("exploring", weighted_mean(asking, need),
                             moments=[call.unit_moment(replies[k][1]) for k in np.argsort(-asking)[:TOP_MOMENTS]
                                      if asking[k] >= SHOWN], lowering_moments=[]))
        similarity = np.array([float(s.embeddings[c] @ s.embeddings[a]) for c, a in replies])
        feats.append(Feature("builds_on_customer", weighted_mean(similarity, need),
                             moments=[call.unit_moment(replies[k][1]) for k in np.argsort(-similarity)[:TOP_MOMENTS]],
                             lowering_moments=[call.unit_moment(replies[k][1]) for k in np.argsort(similarity)[:TOP_MOMENTS]]))
    else:
        feats += [Feature(n, None) for n in ("acknowledgement", "exploring", "builds_on_customer")]

    if agent:
        weight = call.weights(agent)
        personal = s.p("personalisation", "1")[agent]
        feats.append(Feature("personalisation", weighted_mean(personal, weight),
                             moments=[call.unit_moment(agent[k]) for k in np.argsort(-personal * weight)[:TOP_MOMENTS]
                                      if personal[k] >= SHOWN], lowering_moments=[]))
        polite = (s.p("politeness", "polite") - s.p("politeness", "rude"))[agent]
        order = np.argsort(polite * weight)
        # units count by how clearly (beyond even odds) they are courteous or rude: routine questions say
        # nothing either way, so a longer call of them does not dilute the courtesy that was shown
        clarity = np.maximum(s.p("politeness", "polite"), s.p("politeness", "rude"))[agent] - 0.5
        salience = weight * np.clip(clarity, 0.0, None)
        feats.append(Feature("politeness", weighted_mean(polite, salience),
                             moments=[call.unit_moment(agent[k]) for k in order[::-1][:TOP_MOMENTS]],
                             lowering_moments=[call.unit_moment(agent[k]) for k in order[:TOP_MOMENTS] if polite[k] < 0]))
        asks_after = in_proportion(s.p("exploring", "1"), CLEARLY_EXPLORING, EXPLORING_MARGIN)
        dismissive = (s.p("dismissive", "1") * (1 - asks_after))[agent]
        words = np.array([units[k].words for k in agent], dtype=float)
        worst = np.argsort(-dismissive * weight)[:2]
        # engaged: where most of the agent's words went into the problem, its longest clearly engaged units
        engaged = np.argsort(-words * (1 - dismissive))[:TOP_MOMENTS]
        feats.append(Feature("dismissiveness", weighted_mean(dismissive, words),
                             moments=[call.unit_moment(agent[k]) for k in engaged if dismissive[k] < 1 - SHOWN],
                             lowering_moments=[call.unit_moment(agent[k]) for k in worst
                                               if dismissive[k] >= SHOWN and weight[k] == 1.0]))
    else:
        feats += [Feature(n, None) for n in ("personalisation", "politeness", "dismissiveness")]

    if call.measured("interruptions"):
        events = [e for e in call.characteristics.interruptions.events if e.interrupter == AGENT]
        minutes = max(1.0, call.characteristics.handle_time.duration_ms / 60000)
        feats.append(Feature("agent_interruptions", len(events) / minutes * 5,
                             moments=[span(AGENT, e.begin_ms, e.end_ms, e.text) for e in events[:TOP_MOMENTS]]))
    else:
        feats.append(Feature("agent_interruptions", None))

    latency = call.characteristics.latency
    if call.measured("latency") and latency.median_ms is not None:
        slow = sorted(latency.responses, key=lambda r: -r.gap_ms)[:TOP_MOMENTS]
        feats.append(Feature("response_latency", latency.median_ms / 1000,
                             moments=[span(AGENT, r.customer_end_ms, r.agent_begin_ms, f"{r.gap_ms / 1000:.1f} s to answer")
                                      for r in slow if r.gap_ms > 1500]))
    else:
        feats.append(Feature("response_latency", None))

    conv = call.conversation
    words = {p: sum(len(conv.turns[i].text.split()) for i in call.indices(p)) for p in (AGENT, CUSTOMER)}
    if call.measured("talk_balance") and len(conv.turns) >= MIN_TURNS_FOR_BALANCE and sum(words.values()):
        feats.append(Feature("talk_imbalance", abs(words[AGENT] / sum(words.values()) - 0.5)))
    else:
        feats.append(Feature("talk_imbalance", None))
    return feats
