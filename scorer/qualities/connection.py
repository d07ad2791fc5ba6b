"""Connection: did the agent make the customer feel heard?

Acknowledgement and empathy when the customer is upset, using the customer's name and words,
replies that build on what was said, politeness; against talking over the customer, leaving them
waiting for an answer, dismissing them, and a lopsided exchange.
"""

from __future__ import annotations

import numpy as np

from ..conversation import AGENT, CUSTOMER
from ..evidence import moment, span
from . import CallFacts, Feature

UPSET = 0.5  # customer turns the sentiment head calls negative with this probability
TOP_MOMENTS = 3
MIN_TURNS_FOR_BALANCE = 6  # balance is a property of an exchange, not of a single reply


def features(call: CallFacts) -> list[Feature]:
    s, conv = call.signals, call.conversation
    agent, customer = call.indices(AGENT), call.indices(CUSTOMER)
    feats = []

    # Acknowledgement: empathy of the agent's reply to each customer turn, upset turns counting double.
    replies = [(i, call.reply_to(i)) for i in customer if call.reply_to(i) is not None]
    if replies:
        weight = np.array([2.0 if s.p("sentiment", "negative")[i] >= UPSET else 1.0 for i, _ in replies])
        empathy = np.array([s.p("empathy", "1")[r] for _, r in replies])
        value = float((weight * empathy).sum() / weight.sum())
        shown = [moment(conv, replies[k][1]) for k in np.argsort(-empathy)[:TOP_MOMENTS] if empathy[k] >= 0.3]
        upset = [moment(conv, i) for (i, _), w in zip(replies, weight) if w > 1][:TOP_MOMENTS]
        feats.append(Feature("acknowledgement", value, "agent acknowledged the customer's feelings and situation",
                             "agent rarely acknowledged the customer's feelings, even when they were upset",
                             shown, upset))
        # Active listening: replies that take up what the customer just said.
        similarity = np.array([float(s.embeddings[i] @ s.embeddings[r]) for i, r in replies])
        order = np.argsort(-similarity)[:TOP_MOMENTS]
        feats.append(Feature("builds_on_customer", float(similarity.mean()),
                             "agent's replies built on what the customer said",
                             "agent's replies did not pick up what the customer said",
                             [moment(conv, replies[k][1]) for k in order],
                             [moment(conv, replies[k][1]) for k in np.argsort(similarity)[:TOP_MOMENTS]]))
    feats.append(_agent_mean(call, agent, "personalisation", "1", "personalisation",
                             "agent used the customer's name and details", "agent never personalised the conversation"))
    if agent:
        polite = s.p("politeness", "polite")[agent] - s.p("politeness", "rude")[agent]
        order = np.argsort(polite)
        feats.append(Feature("politeness", float(polite.mean()), "agent was courteous throughout", "agent was curt or rude",
                             [moment(conv, agent[k]) for k in order[::-1][:TOP_MOMENTS]],
                             [moment(conv, agent[k]) for k in order[:TOP_MOMENTS]]))
        dismissive = s.p("dismissive", "1")[agent]
        worst = np.argsort(-dismissive)[:2]
        # the worst moment: one brush-off is felt however polite the rest of a long call was
        feats.append(Feature("dismissiveness", float(dismissive.max()),
                             "agent stayed engaged with the problem", "agent brushed the customer off",
                             [], [moment(conv, agent[k]) for k in worst if dismissive[k] >= 0.3]))
    else:
        feats += [Feature(n, None, "", "") for n in ("politeness", "dismissiveness")]

    if call.measured("interruptions"):
        events = [e for e in call.characteristics.interruptions.events if e.interrupter == AGENT]
        minutes = max(1.0, call.characteristics.handle_time.duration_ms / 60000)
        feats.append(Feature("agent_interruptions", len(events) / minutes * 5, "agent let the customer finish",
                             "agent talked over the customer",
                             [span(AGENT, e.begin_ms, e.end_ms, e.text) for e in events[:TOP_MOMENTS]]))
    else:
        feats.append(Feature("agent_interruptions", None, "", ""))

    latency = call.characteristics.latency
    if call.measured("latency") and latency.median_ms is not None:
        slow = sorted(latency.responses, key=lambda r: -r.gap_ms)[:TOP_MOMENTS]
        feats.append(Feature("response_latency", latency.median_ms / 1000, "agent answered promptly",
                             "customer was left waiting for answers",
                             [span(AGENT, r.customer_end_ms, r.agent_begin_ms, f"{r.gap_ms / 1000:.1f} s to answer") for r in slow if r.gap_ms > 1500]))
    else:
        feats.append(Feature("response_latency", None, "", ""))

    words = {p: sum(len(conv.turns[i].text.split()) for i in call.indices(p)) for p in (AGENT, CUSTOMER)}
    if len(conv.turns) >= MIN_TURNS_FOR_BALANCE and sum(words.values()):
        share = words[AGENT] / sum(words.values())
        feats.append(Feature("talk_imbalance", abs(share - 0.5), "a balanced exchange", "one party did most of the talking"))
    else:
        feats.append(Feature("talk_imbalance", None, "", ""))
    return feats


def _agent_mean(call: CallFacts, agent: list[int], head: str, cls: str, name: str, raises: str, lowers: str) -> Feature:
    if not agent:
        return Feature(name, None, raises, lowers)
    p = call.signals.p(head, cls)[agent]
    return Feature(name, float(p.mean()), raises, lowers,
                   [moment(call.conversation, agent[k]) for k in np.argsort(-p)[:TOP_MOMENTS] if p[k] >= 0.5], [])
