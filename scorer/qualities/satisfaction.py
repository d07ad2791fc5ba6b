"""Satisfaction: did the customer leave better off?

Their sentiment over the call weighted to how it ends, gratitude at the close, whether the
problem was solved on the call or deferred, transferred or left open, and the effort it took.
"""

from __future__ import annotations

import numpy as np

from ..conversation import CUSTOMER
from ..evidence import moment
from . import CallFacts, Feature

# How much later customer turns count: the last turn weighs END_WEIGHT times the first.
END_WEIGHT = 4.0
# Thanks usually comes a turn or two before the goodbyes.
CLOSING_TURNS = 3
OUTCOME_VALUE = {"resolved": 1.0, "deferred": -0.3, "transferred": -0.5, "unresolved": -1.0}


def features(call: CallFacts) -> list[Feature]:
    s, conv = call.signals, call.conversation
    customer = call.indices(CUSTOMER)
    feats = []
    if customer:
        mood = s.p("sentiment", "positive")[customer] - s.p("sentiment", "negative")[customer]
        weights = END_WEIGHT ** np.linspace(0, 1, len(customer))
        # the turns that pulled the weighted mood up, or down, the most
        pull = weights * mood
        feats.append(Feature("customer_sentiment", float(pull.sum() / weights.sum()),
                             "the customer sounded positive, especially towards the end",
                             "the customer sounded negative, especially towards the end",
                             [moment(conv, customer[k]) for k in np.argsort(-pull)[:2] if pull[k] > 0],
                             [moment(conv, customer[k]) for k in np.argsort(pull)[:2] if pull[k] < 0]))
        feats.append(Feature("worst_moment", float(mood.min()), "the customer was never seriously upset",
                             "the customer was upset at one point", [moment(conv, customer[int(np.argmin(mood))])]))
        closing = customer[-CLOSING_TURNS:]
        thanks = s.p("gratitude", "1")[closing]
        feats.append(Feature("closing_gratitude", float(thanks.max()), "the customer thanked the agent at the close",
                             "the customer did not thank the agent at the close",
                             [moment(conv, closing[int(np.argmax(thanks))])]))
    else:
        feats += [Feature(n, None, "", "") for n in ("customer_sentiment", "worst_moment", "closing_gratitude")]

    outcome = call.outcome
    feats.append(Feature("outcome", OUTCOME_VALUE[outcome.status], f"the problem was {outcome.status} on the call",
                         f"the call ended {outcome.status}" if outcome.status != "resolved" else "", outcome.evidence))
    effort = outcome.effort
    feats.append(Feature("customer_effort", effort.score / 100, "the customer had little to do",
                         "the customer had to work hard: repeats, holds or transfers",
                         (effort.repeats + effort.effort_statements + effort.transfers + effort.holds)[:4]))
    return feats
