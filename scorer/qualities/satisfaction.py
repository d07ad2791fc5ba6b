"""Satisfaction: did the customer leave better off?

Their sentiment over the call weighted to how it ends, how they close (thanks or a warm goodbye,
a plain bye, or anger), whether the problem was solved on the call or deferred, transferred or
left open, and the effort it took.
"""

from __future__ import annotations

import numpy as np

from ..conversation import CUSTOMER
from . import CallFacts, Feature, FeatureSpec, weighted_mean, weighted_quantile

# How much later customer units count: the last weighs END_WEIGHT times the first.
END_WEIGHT = 4.0
# The close: the customer's last units, read as a whole (thanks usually comes a unit or two before the goodbye).
CLOSING_UNITS = 2
# The worst moment is a low quantile of the customer's mood, not its minimum: one misheard fragment
# is not a furious customer, and a longer call is not a worse one.
WORST_QUANTILE = 0.1
OUTCOME_VALUE = {"resolved": 1.0, "deferred": -0.3, "transferred": -0.5, "unresolved": -1.0}
OUTCOME_TIE_MARGIN = 0.1  # the likeliest status's lead over the next below which the two are blended

SPECS = (
    FeatureSpec("customer_sentiment", +1, 0.9, 0.0, 0.4,
                "the customer sounded positive, especially towards the end",
                "the customer sounded negative, especially towards the end",
                "the customer's sentiment over their units, later ones weighing up to 4x the first, each by how much feeling "
                "it carries (neutral answers and fragments little)"),
    FeatureSpec("worst_moment", +1, 0.3, -0.5, 0.4,
                "the customer was never seriously upset", "the customer was upset at one point",
                "the customer's low point: the 10th percentile of their mood over units (a furious moment "
                "rarely ends in delight; one misheard fragment is not one)"),
    FeatureSpec("closing_gratitude", +1, 0.6, 0.0, 0.5,
                "the customer closed warmly (thanks or a warm goodbye)", "the customer closed unhappy",
                "how the customer's last two units close the call, read as a whole: thanks or a warm goodbye (+), "
                "a plain \"bye\" or leaving unhelped however politely (\"thanks anyway\", \"never mind\") (neutral), anger (-)", neutral=0.0),
    FeatureSpec("outcome", +1, 0.9, 0.0, 0.8,
                "the problem was resolved on the call", "the call did not end resolved",
                "resolved on the call (+), deferred (\"I'll check and get back to you\"), transferred, unresolved (-) "
                "(1, -0.3, -0.5, -1); within 0.1 of a tie between two statuses, between their values"),
    FeatureSpec("customer_effort", -1, 0.6, 0.3, 0.3,
                "the customer had little to do", "the customer had to work hard: repeats, being asked again, holds or transfers",
                "the effort score below /100: repeats, the agent asking again what the customer answered, holds, transfers, "
                "dead air and the customer saying it was hard (\"third time I've called\")",
                lowers_unshown="the customer had a little more to do than in a typical call"),
)


def outcome_value(probabilities: dict[str, float]) -> float:
    """OUTCOME_VALUE of the likeliest status where it leads the next by OUTCOME_TIE_MARGIN or more;
    nearer a tie, moving towards the next one's value, to halfway at a tie. A call on the edge between
    resolved and deferred scores between the two, so a probability that moves by 0.001 (another CPU's
    kernels, a word heard differently) moves satisfaction as little, not by 25 points; a clear status
    counts in full, however its probability is spread over the others."""
    (first, p1), (second, p2) = sorted(probabilities.items(), key=lambda item: -item[1])[:2]
    weight = 0.5 + 0.5 * min((p1 - p2) / OUTCOME_TIE_MARGIN, 1.0)
    return weight * OUTCOME_VALUE[first] + (1 - weight) * OUTCOME_VALUE[second]


def features(call: CallFacts) -> list[Feature]:
    s = call.unit_signals
    customer = call.unit_indices(CUSTOMER)
    feats = []
    if customer:
        mood = (s.p("sentiment", "positive") - s.p("sentiment", "negative"))[customer]
        # units count by how much feeling they carry: a run of neutral answers in the middle of a long
        # call says nothing about how the customer feels, and must not dilute what they did express
        feeling = 1.0 - s.p("sentiment", "neutral")[customer]
        weights = END_WEIGHT ** np.linspace(0, 1, len(customer)) * call.weights(customer) * feeling
        # the units that pulled the weighted mood up, or down, the most
        pull = weights * mood
        feats.append(Feature("customer_sentiment", weighted_mean(mood, weights),
                             moments=[call.unit_moment(customer[k]) for k in np.argsort(-pull)[:2] if pull[k] > 0],
                             lowering_moments=[call.unit_moment(customer[k]) for k in np.argsort(pull)[:2] if pull[k] < 0]))
        low = weighted_quantile(mood, call.weights(customer), WORST_QUANTILE)
        feats.append(Feature("worst_moment", low, moments=[call.unit_moment(customer[int(np.argmin(np.abs(mood - low)))])]))
        closing = customer[-CLOSING_UNITS:]
        warmth = np.maximum(s.p("gratitude", "1")[closing], s.p("sentiment", "positive")[closing])
        gave_up = call.outcome.left_unhelped
        if gave_up:  # their thanks ("thanks anyway") is for trying, not for help: no warmth at all
            warmth[:] = 0.0
        close = float(warmth.max() - s.p("sentiment", "negative")[closing[-1]])
        feats.append(Feature("closing_gratitude", close, moments=[call.unit_moment(closing[int(np.argmax(warmth))])],
                             lowers="the customer left unhelped, however politely (\"thanks anyway\", \"never mind\")" if gave_up else "",
                             lowering_moments=[gave_up or call.unit_moment(closing[-1])]))
    else:
        feats += [Feature(n, None) for n in ("customer_sentiment", "worst_moment", "closing_gratitude")]

    outcome = call.outcome
    feats.append(Feature("outcome", outcome_value(outcome.probabilities), f"the problem was {outcome.status} on the call",
                         f"the call ended {outcome.status}" if outcome.status != "resolved" else "", outcome.evidence))
    effort = outcome.effort
    feats.append(Feature("customer_effort", effort.score / 100, moments=effort.moments[:4]))
    return feats
