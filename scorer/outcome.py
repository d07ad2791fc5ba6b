"""Outcome: resolved on the call, deferred, transferred/escalated or left unresolved, read from the
close of the call as a whole; and the customer's effort (repeats, questions asked again, effort
statements, holds with their times, dead air, transfers) as rates and lengths that do not grow with
the call, each with its moments."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .characteristics import Characteristics, Silence
from .conversation import AGENT, CUSTOMER, Conversation, Turn, Word
from .evidence import Moment, moment, span
from .encoder import embed
from .heads import HEADS, Head, TurnSignals, asks_question, in_proportion, predict

STATUSES = ("resolved", "deferred", "transferred", "unresolved")
OUTCOME_MODEL_PATH = Path(__file__).parent / "data" / "outcome.json"
STATED = {"resolved": "resolved", "deferred": "deferred", "transferred": "transfer"}  # status -> outcome head class
# The close of the call is read in windows of WINDOW_WORDS words every WINDOW_STRIDE words over its
# last CLOSE_WORDS words (about the last 40 s of talk), and the customer's last CUSTOMER_CLOSE_WORDS.
WINDOW_WORDS = 20
WINDOW_STRIDE = 10
CLOSE_WORDS = 100
CUSTOMER_CLOSE_WORDS = 30
WORD = re.compile(r"[\w']+")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
BACKCHANNEL_WORDS = {"mm", "hmm", "mhm", "uh", "huh", "okay", "ok", "yeah", "yep", "yes", "right", "sure", "alright"}
MAX_BACKCHANNEL_WORDS = 2
OUTCOME_THRESHOLD = 0.6  # a turn states an outcome when its head says so with this probability
EVIDENCE_TURNS = 3
REPEAT_SIMILARITY = 0.8  # cosine between two customer turns that say the same thing again
# A customer turn this long says something: "yes", "okay" repeated is not the customer repeating
# themselves, and a Whisper fragment of a word or two cannot carry an effort statement.
REPEAT_MIN_WORDS = 5
# The customer saying they are saying it again ("like I said", "I've told you twice", "you asked me that"):
# a repeat however short the turn ("Like I said, dramas."), and however the words differ from the first time.
SAYS_AGAIN = re.compile(r"\b(?:" + "|".join((
    r"(?:like|as) i (?:just |already |did )?(?:said|say|mentioned|told you|explained)",
    r"i(?:'ve| have)? (?:already |just |did )?(?:said(?! to\b)|told you|mentioned|explained)",  # not "I said to her"
    r"you(?:'ve| have)? (?:already |just )?asked (?:me )?(?:that|this)",
    r"told you (?:twice|already|before)",
)) + r")\b")
# A customer leaving unhelped, however politely: thanking the agent for trying rather than for help
# ("thanks anyway", "thank you though"), or giving up ("never mind", "forget it", "I'll sort it out
# myself", "we're going round in circles"). Their thanks reads as gratitude and their calm as calm.
LEAVES_UNHELPED = re.compile(r"\b(?:" + "|".join((
    r"(?:thanks|thank you|cheers)(?: (?:so|very) much)?,? (?:for trying|anyway|though|all the same)",
    r"never ?mind",
    r"(?<!don't )(?<!not )forget it",
    r"i give up",
    r"(?:i'll|i will) (?:just )?(?:sort|figure|work) (?:it|this|that) out(?: myself| on my own)?",
    r"(?:i'll|i will) (?:just )?(?:sort|fix|do|handle) (?:it|this|that) (?:myself|on my own)",
    r"(?:i'll|i will) (?:just )?(?:try|go|look|ring|call|shop) (?:somewhere |someone |round |around )?(?:else|elsewhere)",
    r"(?:this|it)(?:'s| is)(?:n't| not) (?:working|getting (?:us )?anywhere)",
    r"(?:i )?don't think (?:this|it)(?:'s| is) (?:working|getting (?:us )?anywhere)",
    r"(?:going|go|went) (?:round |around )?in circles",
    r"stuck in a loop",
)) + r")\b")
# The agent asking again what it asked before the customer answered ("What kind of movies do you
# like?" a third time): the customer has to give it again. Two question sentences of the agent ask
# the same thing at this MiniLM cosine or more, where the later asks for no word the earlier did not
# ("Why do you like cartoons?" after "Do you like cartoons?"). MiniLM alone hears "Can I get your
# first name?" and "...last name?" as 0.88 alike, "...travelling to?" and "...from?" as 0.95.
ASKED_AGAIN_SIMILARITY = 0.85
ASKED_AGAIN_MIN_WORDS = 3  # "Sorry?" and "Okay?" are not questions a customer answered
ASKS = re.compile(r"^(?:please |so |now |and |okay,? )?tell me\b", re.IGNORECASE)  # a request that asks: "Tell me about a film you like."
# The words that shape a question rather than say what it asks for
QUESTION_WORDS = frozenset((
    "what", "what's", "which", "why", "how", "who", "where", "when", "do", "does", "did", "is", "are", "was", "were",
    "have", "has", "can", "could", "would", "will", "you", "your", "you're", "i", "me", "a", "an", "the", "about",
    "so", "and", "okay", "please", "that", "it", "there", "any", "some", "of", "kind", "sort", "type", "really",
    "just", "tell", "think", "again"))
# Questions an agent rightly asks more than once: whether there is anything else, whether the line still works.
ASKED_MORE_THAN_ONCE = re.compile(r"\b(?:anything else|still (?:there|with me)|hear me)\b", re.IGNORECASE)
# An agent turning a transfer down ("there's no manager available", "I can't put you through") has
# not transferred the call, though the head hears a transfer's words in it.
REFUSES_TRANSFER = re.compile(r"\b(?:" + "|".join((
    r"no (?:manager|supervisor|team leader|one|body)(?: else)? (?:is |who's |who is )?(?:available|free|here|in)\b",
    r"(?:can't|cannot|can not|won't|unable to|not able to) (?:transfer|put you through|escalate|connect) you\b",
    r"(?:there's|there is) (?:no one|nobody|no manager|no supervisor) (?:i can|to)\b",
)) + r")")
# The customer told to try again themselves ("you can call back tomorrow", "try later", "you'll have
# to wait") is left with it: a deferral is the agent or the company taking the next step.
TOLD_TO_RETRY = re.compile(r"\b(?:" + "|".join((
    r"(?:you can|you could|you'll have to|you will have to|you'll need to|you will need to|you need to|you may want to|"
    r"you might want to|please|just|feel free to) (?:call|ring|phone|try|contact|check|come) (?:us |them |again |back )*"
    r"(?:back|again|later|tomorrow|another time|next week)",
    r"(?:^|[,;] |\b(?:and|so|just|please|then) )(?:call|ring|phone|try) (?:us |back |again )*"  # said to the customer:
    r"(?:later|tomorrow|another time|next week|in a few days)",  # not "Dr Shah will give you a call tomorrow"
    r"(?:you'll|you will) (?:just )?have to wait",
)) + r")\b")
# The paperwork of something done: a reminder, confirmation, receipt or tracking number on its way
# ("you'll get a text reminder the day before", "I'll send you a confirmation email now"). It states
# no outcome, though the head hears a deferral in its future tense (0.84 and 0.86 for those two). Read
# on the close's words, lower case and unpunctuated as Whisper's fragments are: a next step said in
# the same breath ("...once the engineer has been") is not part of it and is still read.
_PAPERWORK = r"(?:\w+ )?(?:reminder|confirmation|receipt|tracking (?:number|link|code))s?(?: (?:email|e-mail|text|message|sms|letter|number))?"
NOTICE = re.compile(r"\b(?:" + "|".join((
    r"(?:you'll|you will|you should|you're going to) (?:also |then )?(?:get|receive|be sent|see) (?:a|an|the|your) " + _PAPERWORK,
    r"(?:i'll|i will|we'll|we will|i'm going to|we're going to|i'm|we're|i've|we've|i have|we have) (?:also |just )?"
    r"(?:send|sent|sending|text|texted|texting|email|emailed|emailing) (?:you |it |that )?(?:over |through )?(?:a|an|the|your) " + _PAPERWORK,
)) + r")(?: (?:shortly|now|today|tonight|the day before|by (?:email|text)|to your (?:email|phone|inbox)|"
    r"in (?:a|the) (?:few|couple of|next few) minutes|within the hour))*\b")
LEAVES_UNHELPED_WORDS = 12  # read in the customer's last words: what they said before may have been answered since
EFFORT_THRESHOLD = 0.6  # the heads are trained class-balanced, so 0.5 over-reports rare cues
# A repeat or an effort statement counts in full this far above its threshold, not at all this far
# below, and in proportion between: a cosine or probability that moves by 1e-4 (the encoder in
# bfloat16, another CPU's kernels) moves the score as little, not by a whole statement (one corpus
# turn at 0.5999 against 0.6001 was 9 points of satisfaction). The evidence quotes those at or over.
CUE_MARGIN = 0.05

# Holds. The agent announces one ("can you hold", "bear with me", "one moment while I check") and
# the line goes quiet; matched as whole phrases, so "account holder" or "household" never are.
_TIME = r"(?:moment|minute|second|sec)s?"
HOLD_ANNOUNCEMENT = re.compile(r"\b(?:" + "|".join((
    r"(?:can|could|would|will|if) (?:i |you )?(?:please |just )?(?:hold|bear with me)",
    r"please (?:hold|bear with me)",
    r"bear with me",
    r"(?:put|place|pop) you on (?:a )?(?:quick |brief |short )?hold",
    r"hold (?:on|the line)(?: for)? (?:a|one|just a) " + _TIME,
    r"hold on (?:while|let me)",
    r"hang on (?:a|one|just a) " + _TIME,
    r"(?:one|just a|give me a|give me one|give me a few|bear with me a) " + _TIME,
)) + r")\b")
# The agent back from a hold thanks the customer: good practice, and the end of that hold.
HOLD_RETURN = re.compile(r"\b(?:thank(?:s| you)(?: so much| very much)? for (?:holding|waiting|your patience|being patient|"
                         r"bearing with me)|sorry (?:about|for) the wait|sorry to keep you waiting)\b")
HOLD_START_MS = 20000  # the line must go quiet within this long after the announcement
# ... with little more said first ("I'll be right back", "Sure."): "one second" followed by the
# answer, and a silence after 20 s of it, is an answer, not a hold.
HOLD_MAX_TALK_MS = 5000
# A hold the customer was not told about weighs this much more than an announced one of the same length.
UNANNOUNCED_HOLD_WEIGHT = 1.5
# Two transfer statements closer than this are one transfer said twice ("I'll put you through ... putting you through now").
TRANSFER_MERGE_MS = 120000
TRANSFER_MERGE_TURNS = 12  # the same for text without times

# Effort is a weighted sum of signals, each capped where it alone is as bad as it gets. They are rates
# over what the customer had to say (substantive turns, not "yes" or "okay"), hold time judged by its
# own length, dead air as a share of the call: more of the same call's small talk moves none of them.
# signal: (weight, value at which it is full)
EFFORT_SCALE = {
    "repeats": (0.4, 0.25),  # share of the customer's substantive turns that repeat an earlier one or say they do
    "asked_again": (0.4, 0.25),  # share of the agent's asking turns that ask again what the customer answered
    "effort_statements": (0.4, 0.25),  # share of the customer's substantive turns saying it was hard
    # seconds on hold, an unannounced hold weighted up; text without times: holds per agent turn
    "holds": (0.3, 240.0),
    "transfers": (0.25, 1.0),  # distinct transfers: one is the full weight
    "dead_air": (0.1, 0.25),  # share of the call in unannounced silence: a small effect
}
UNTIMED_HOLDS_FULL = 0.25  # holds per agent turn at which holds are full, for text without times
MIN_TURNS = 4  # rates over fewer turns than this are taken over this many: one line is not a habit


@dataclass
class Hold:
    begin_ms: int  # the line goes quiet (text without times: the announcing turn)
    end_ms: int  # the agent is back
    duration_ms: int | None  # None for text without times
    announcement: Moment | None  # the agent asking the customer to hold; None: not announced
    return_thanks: Moment | None  # the agent thanking the customer for holding on return

    @property
    def moment(self) -> Moment:
        told = "announced" if self.announcement else "not announced"
        length = f"{self.duration_ms / 1000:.0f} s " if self.duration_ms is not None else ""
        return span(AGENT, self.begin_ms, self.end_ms, f"{length}on hold, {told}")


@dataclass
class Effort:
    score: float  # 0 (effortless) .. 100 (exhausting)
    repeats: list[Moment] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    transfers: list[Moment] = field(default_factory=list)  # one per distinct transfer
    effort_statements: list[Moment] = field(default_factory=list)
    dead_air: list[Moment] = field(default_factory=list)  # silences nobody announced or thanked for
    hold_ms: int | None = None  # total time on hold; None for text without times
    measures: dict[str, float] = field(default_factory=dict)  # each signal, in EFFORT_SCALE's units
    asked_again: list[Moment] = field(default_factory=list)  # the agent asking again what the customer answered

    @property
    def moments(self) -> list[Moment]:
        return self.repeats + self.asked_again + self.effort_statements + self.transfers + [h.moment for h in self.holds] + self.dead_air


@dataclass
class Outcome:
    status: str  # one of STATUSES
    confidence: float  # the probability of ``status``
    probabilities: dict[str, float]  # status -> the call-level classifier's probability
    evidence: list[Moment]
    effort: Effort
    # the customer leaving unhelped however politely ("thanks anyway", "never mind"): the call is not
    # resolved, and their thanks is for trying, not for help (satisfaction reads it so)
    left_unhelped: Moment | None = None


@dataclass
class Window:
    """A stretch of the call's words read as one text, whoever said them."""

    text: str
    party: str  # who said most of it
    turns: list[int]  # the turns its words come from


def words(text: str) -> list[str]:
    """Lower case, no punctuation: how Whisper's fragments and written turns read alike."""
    return WORD.findall(text.lower())


def _close_stream(conversation: Conversation) -> list[tuple[str, str, int]]:
    """The call's words as (word, party, turn), without backchannels inside the other party's talk."""
    turns = conversation.turns
    said = [(w, t.speaker, i) for i, t in enumerate(turns) if not _inside_backchannel(turns, i) for w in words(t.text)]
    # a run of digits read out (an account or meter number) is one number, not a dozen words: the heads
    # hear long digit runs as an extension to be transferred to
    said = [x for k, x in enumerate(said) if not (x[0].isdigit() and k and said[k - 1][0].isdigit())]
    notice = _notice_words(said)
    return [x for k, x in enumerate(said) if k not in notice]


def _notice_words(said: list[tuple[str, str, int]]) -> set[int]:
    """The positions in ``said`` of the agent's notices of paperwork on its way (NOTICE)."""
    text = " ".join(w for w, _, _ in said)
    found = set()
    for match in NOTICE.finditer(text):
        first = text[:match.start()].count(" ")
        found |= {k for k in range(first, first + len(match.group().split())) if said[k][1] == AGENT}
    return found


def close_windows(conversation: Conversation) -> list[Window]:
    """The close of the call as overlapping windows of its last words, both parties in order, so
    an agent's long turn and the customer's "okay, great" after it are read together however
    Whisper cut them; then the customer's own last words, for how they left. A backchannel inside
    the other party's speech ("mm-hmm" between two pieces of the agent's turn) is listening, not
    content, and is left out."""
    stream = _close_stream(conversation)
    n = len(stream)
    first = max(0, n - CLOSE_WORDS)
    starts = sorted({max(0, end - WINDOW_WORDS) for end in range(n, first, -WINDOW_STRIDE)}) or [0]
    windows = [_window(stream[b:b + WINDOW_WORDS]) for b in starts]
    customer = [x for x in stream if x[1] == CUSTOMER][-CUSTOMER_CLOSE_WORDS:]
    return windows + [_window(customer, CUSTOMER)]


def _inside_backchannel(turns: list[Turn], i: int) -> bool:
    said = words(turns[i].text)
    return (0 < i < len(turns) - 1 and turns[i - 1].speaker == turns[i + 1].speaker != turns[i].speaker
            and len(said) <= MAX_BACKCHANNEL_WORDS and set(said) <= BACKCHANNEL_WORDS)


def _window(stream: list[tuple[str, str, int]], party: str | None = None) -> Window:
    agent = sum(who == AGENT for _, who, _ in stream)
    party = party or (AGENT if 2 * agent >= len(stream) else CUSTOMER)
    return Window(" ".join(w for w, _, _ in stream), party, sorted({i for _, _, i in stream}))


# The turn heads the close is read with, and all that ``call_outcome_features`` can use: the call-outcome
# model is trained on what they read, so it is retrained whenever one of them is.
CLOSE_HEADS = ("outcome", "sentiment", "gratitude", "effort")


def read_close(conversation: Conversation, heads: dict[str, Head]) -> tuple[list[Window], TurnSignals]:
    windows = close_windows(conversation)
    return windows, predict([w.text for w in windows], [w.party for w in windows], {h: heads[h] for h in CLOSE_HEADS})


def call_outcome_features(windows: list[Window], close: TurnSignals) -> np.ndarray:
    """What the call-level classifier reads from the close (``read_close``): for each stated
    outcome, its strongest and mean reading over the close windows and its reading in the last
    one, and its strongest and mean reading over the windows mostly in the agent's words (only the
    agent resolves, defers or transfers: a customer recounting "this is my third call" or asking
    for the claims team states none); how the close felt (the strongest negative and positive mood
    of its windows, and the mood of the last); and how the customer left: their mood, thanks and
    effort in their last words. Fixed-size windows over a fixed-size close do not drift with call
    length or with how the words were cut into turns."""
    outcome, mood = close.probs["outcome"][:-1], close.probs["sentiment"][:-1]
    agent = np.array([w.party == AGENT for w in windows[:-1]])
    negative, positive = HEADS["sentiment"].index("negative"), HEADS["sentiment"].index("positive")
    row = []
    for k in range(1, len(HEADS["outcome"])):
        row += [outcome[:, k].max(), outcome[:, k].mean(), outcome[-1, k]]
    row += [close.probs["sentiment"][-1, negative], close.probs["sentiment"][-1, positive]]
    for k in range(1, len(HEADS["outcome"])):
        row += [outcome[agent, k].max(), outcome[agent, k].mean()] if agent.any() else [0.0, 0.0]
    row += [mood[:, negative].max(), mood[:, positive].max(), mood[-1, negative], mood[-1, positive]]
    row += [close.p("gratitude", "1")[-1], close.p("effort", "1")[-1]]
    return np.array(row, dtype=np.float32)


def decide(conversation: Conversation, signals: TurnSignals, characteristics: Characteristics | None,
           model: Head, heads: dict[str, Head]) -> Outcome:
    """The call's outcome from the trained call-level classifier (``model``, from OUTCOME_MODEL_PATH)
    over the close of the call read by the turn heads (``heads``: the ones ``model`` was trained
    with). The evidence is the turns of the close window that says it
    most strongly (for unresolved, how the customer left)."""
    windows, close = read_close(conversation, heads)
    x = call_outcome_features(windows, close)
    p = model.predict_proba(x[None, :])[0]
    readings = transfer_readings(conversation, signals, heads)
    transfers = sorted(i for i, r in readings.items() if r >= OUTCOME_THRESHOLD)
    # only the agent can put a call through: a customer asking for a manager who is refused was not
    # transferred. Counted in proportion near the threshold (CUE_MARGIN), so a reading of 0.5999
    # against 0.6001 does not move a fifth of the probability between transferred and the rest.
    clearest = max(readings.values(), default=0.0)
    p[model.classes.index("transferred")] *= _in_proportion(clearest, OUTCOME_THRESHOLD)
    deferred, unresolved = model.classes.index("deferred"), model.classes.index("unresolved")
    commitment = told_to_retry(conversation, windows, heads)
    if commitment is not None:
        # what read as a deferral may be only the customer told to call back: it stands as far as
        # another of the agent's sentences in the close takes the next step ("I'll call you tomorrow")
        kept = _in_proportion(commitment, OUTCOME_THRESHOLD)
        p[unresolved], p[deferred] = p[unresolved] + (1 - kept) * p[deferred], kept * p[deferred]
    gave_up = left_unhelped(conversation)
    if gave_up is not None:
        # what read as resolved was the customer's thanks or calm: unresolved (a deferral or transfer stands)
        resolved = model.classes.index("resolved")
        p[unresolved], p[resolved] = p[unresolved] + p[resolved], 0.0
    p = p / p.sum()
    status = model.classes[int(np.argmax(p))]
    if status == "unresolved":
        evidence = _customer_turns(conversation)[-2:]
    else:
        k = HEADS["outcome"].index(STATED[status])
        strongest = windows[int(np.argmax(close.probs["outcome"][:-1, k]))]
        evidence = sorted(sorted(strongest.turns, key=lambda i: -signals.probs["outcome"][i, k])[:EVIDENCE_TURNS])
    # Only a transferred call has transfers: the head alone hears one in "let me see here".
    transfers = sorted(set(transfers) | {i for i in evidence if conversation.turns[i].speaker == AGENT}) \
        if status == "transferred" else []
    effort = measure_effort(conversation, signals, characteristics, transfers)
    return Outcome(status, round(float(p.max()), 3), {c: round(float(v), 3) for c, v in zip(model.classes, p)},
                   [moment(conversation, i) for i in evidence], effort,
                   moment(conversation, gave_up) if gave_up is not None else None)


def told_to_retry(conversation: Conversation, windows: list[Window], heads: dict[str, Head]) -> float | None:
    """Where the agent's close tells the customer to try again themselves (TOLD_TO_RETRY), the
    strongest deferral the head reads in the agent's other sentences of the close; else None."""
    turns = conversation.turns
    close = sorted({i for w in windows[:-1] for i in w.turns if turns[i].speaker == AGENT})
    sentences = [x for i in close for x in SENTENCE_END.split(turns[i].text.strip()) if x]
    others = [x for x in sentences if not TOLD_TO_RETRY.search(x.lower())]
    if len(others) == len(sentences):
        return None
    others = [x for x in others if NOTICE.sub("", " ".join(words(x))).strip()]  # a notice of paperwork is no step
    read = predict(others, [AGENT] * len(others), heads).p("outcome", "deferred") if others else np.zeros(0)
    return float(read.max(initial=0.0))


def left_unhelped(conversation: Conversation) -> int | None:
    """The customer's turn that leaves unhelped however politely (LEAVES_UNHELPED), read in their
    last LEAVES_UNHELPED_WORDS words: what they said before may have been answered since."""
    last = [(w, i) for w, party, i in _close_stream(conversation) if party == CUSTOMER][-LEAVES_UNHELPED_WORDS:]
    found = LEAVES_UNHELPED.search(" ".join(w for w, _ in last))
    if found is None:
        return None
    return last[len(" ".join(w for w, _ in last)[:found.start()].split())][1]  # the turn the cue starts in


def transfer_readings(conversation: Conversation, signals: TurnSignals, heads: dict[str, Head] | None = None) -> dict[int, float]:
    """Each agent turn's strongest reading of a transfer or referral. A customer asking for a manager
    is a request, not a transfer: only the agent can put the call through, and a sentence turning a
    transfer down (REFUSES_TRANSFER) reads as none. Read per turn and, with
    ``heads``, per sentence of the agent's longer turns: inside a long turn "putting you through now"
    is diluted, and how long a turn is depends on how Whisper or diarization cut it. (Fixed windows of
    the agent's words were tried too: on the corpus they hear "it goes to the porting team" as a
    transfer and were right on fewer conversations than turns alone.)"""
    turns = conversation.turns
    transfer = signals.p("outcome", "transfer")
    strongest = {i: float(transfer[i]) for i, t in enumerate(turns) if t.speaker == AGENT}
    for i in strongest:
        if REFUSES_TRANSFER.search(turns[i].text.lower()):
            strongest[i] = 0.0  # read from its other sentences only
    if heads is not None:
        split = ((i, SENTENCE_END.split(t.text.strip())) for i, t in enumerate(turns) if t.speaker == AGENT)
        sentences = [(i, x) for i, parts in split if len(parts) > 1 for x in parts if not REFUSES_TRANSFER.search(x.lower())]
        if sentences:
            read = predict([x for _, x in sentences], [AGENT] * len(sentences), heads).p("outcome", "transfer")
            for (i, _), p in zip(sentences, read):
                strongest[i] = max(strongest[i], float(p))
    return strongest


def stated_transfers(conversation: Conversation, signals: TurnSignals, heads: dict[str, Head] | None = None) -> list[int]:
    """The agent's turns that transfer or refer the customer on (``transfer_readings`` at or over OUTCOME_THRESHOLD)."""
    return sorted(i for i, p in transfer_readings(conversation, signals, heads).items() if p >= OUTCOME_THRESHOLD)


def measure_effort(conversation: Conversation, signals: TurnSignals, characteristics: Characteristics | None,
                   transfer_turns: list[int]) -> Effort:
    """The customer's effort (EFFORT_SCALE): repeats and effort statements per substantive customer
    turn, time on hold, dead air as a share of the call, distinct transfers."""
    turns = conversation.turns
    customer = _customer_turns(conversation)
    substantive = [i for i in customer if len(turns[i].text.split()) >= REPEAT_MIN_WORDS]
    said_before = {i: max(float(signals.embeddings[i] @ signals.embeddings[j]) for j in substantive[:k])
                   for k, i in enumerate(substantive) if k}
    repeated = {i: _in_proportion(cosine, REPEAT_SIMILARITY) for i, cosine in said_before.items()}
    says_again = [i for i in customer if SAYS_AGAIN.search(turns[i].text.lower())]
    repeated.update({i: 1.0 for i in says_again})
    effort_p = {i: float(signals.p("effort", "1")[i]) for i in substantive}
    repeats = [moment(conversation, i) for i in sorted(repeated) if repeated[i] >= 0.5]
    statements = [moment(conversation, i) for i, p in effort_p.items() if p >= EFFORT_THRESHOLD]
    timed = characteristics is not None and characteristics.non_talk is not None and "silences" not in characteristics.skipped
    holds, dead_air = find_holds(conversation, characteristics.non_talk.silences if timed else None)
    transfers = [moment(conversation, i) for i in distinct_transfers(conversation, transfer_turns)]
    questions = agent_questions(conversation)
    again = asked_again(conversation, questions)
    asked = [moment(conversation, i) for i in sorted(again) if again[i] >= 0.5]

    measures = {"repeats": sum(repeated.values()) / max(MIN_TURNS, len(set(substantive) | set(says_again))),
                "asked_again": sum(again.values()) / max(MIN_TURNS, len({i for i, _ in questions})),
             "effort_statements": _cues(effort_p.values(), EFFORT_THRESHOLD) / max(MIN_TURNS, len(substantive)),
             "transfers": float(len(transfers))}
    scale = dict(EFFORT_SCALE)
    hold_ms = None
    if timed:
        call_ms = max(1, characteristics.handle_time.duration_ms if characteristics.handle_time else conversation.duration_ms)
        hold_ms = sum(h.duration_ms for h in holds)
        measures["holds"] = sum(h.duration_ms * (1.0 if h.announcement else UNANNOUNCED_HOLD_WEIGHT) for h in holds) / 1000
        measures["dead_air"] = sum(m.end_ms - m.begin_ms for m in dead_air) / call_ms
    else:
        measures["holds"] = len(holds) / max(MIN_TURNS, len(turns) - len(customer))
        scale["holds"] = (EFFORT_SCALE["holds"][0], UNTIMED_HOLDS_FULL)
        measures["dead_air"] = 0.0
    score = sum(weight * min(1.0, measures[name] / full) for name, (weight, full) in scale.items())
    return Effort(round(100 * min(1.0, score), 1), repeats, holds, transfers, statements, dead_air, hold_ms,
                  {k: round(v, 3) for k, v in measures.items()}, asked)


def agent_questions(conversation: Conversation) -> list[tuple[int, str]]:
    """The agent's question sentences, with their turns: what the customer was asked."""
    return [(i, sentence) for i, turn in enumerate(conversation.turns) if turn.speaker == AGENT
            for sentence in SENTENCE_END.split(turn.text.strip())
            if len(WORD.findall(sentence)) >= ASKED_AGAIN_MIN_WORDS and (asks_question(sentence) or ASKS.match(sentence))
            and not ASKED_MORE_THAN_ONCE.search(sentence)]


def asked_again(conversation: Conversation, questions: list[tuple[int, str]]) -> dict[int, float]:
    """The agent's turns asking again what it asked before the customer answered, each with how
    clearly (CUE_MARGIN around ASKED_AGAIN_SIMILARITY). Answered: a customer turn that is not itself a
    question came between ("Sorry, what was that?" asks for the question again, rightly)."""
    if len(questions) < 2:
        return {}
    vectors = embed([sentence for _, sentence in questions])
    cosines = vectors @ vectors.T
    asks_for = [_asks_for(sentence) for _, sentence in questions]
    answered = [i for i in _customer_turns(conversation) if not asks_question(conversation.turns[i].text)]
    turns = [i for i, _ in questions]
    again: dict[int, float] = {}
    for b, later in enumerate(turns):
        last_answer = answered[bisect.bisect_left(answered, later) - 1] if answered and answered[0] < later else -1
        asked_before = bisect.bisect_left(turns, last_answer)  # the questions of turns before that answer
        # only questions near enough to count at all are checked word by word: on a two-hour call that
        # is a handful per question, not every one asked before
        near = np.flatnonzero(cosines[b, :asked_before] >= ASKED_AGAIN_SIMILARITY - CUE_MARGIN)
        same = [a for a in near if asks_for[b] and asks_for[b] <= asks_for[a]]
        if same:
            clearly = _in_proportion(float(cosines[b, same].max()), ASKED_AGAIN_SIMILARITY)
            again[later] = max(again.get(later, 0.0), clearly)
    return {i: v for i, v in again.items() if v > 0}


def _asks_for(question: str) -> frozenset[str]:
    """What a question asks for: its words but those that shape a question, plural or not."""
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words(question) if w not in QUESTION_WORDS)


def _in_proportion(value: float, threshold: float) -> float:
    """1 for ``value`` CUE_MARGIN over ``threshold``, 0 as far below, in proportion between."""
    return float(in_proportion(value, threshold, CUE_MARGIN))


def _cues(values, threshold: float) -> float:
    """How many cues ``values`` hold, each weighed by how clearly it is over ``threshold`` (CUE_MARGIN)."""
    return sum(_in_proportion(v, threshold) for v in values)


def find_holds(conversation: Conversation, silences: list[Silence] | None) -> tuple[list[Hold], list[Moment]]:
    """Holds, and the silences that were only dead air. With times, a hold is the line going quiet
    within HOLD_START_MS of the agent announcing it, or a silence the agent thanks the customer for;
    it lasts until the agent is back, however often the customer speaks into it, and each
    announcement makes one hold. Without silences (text, or a recording of one side, whose gaps may be
    the other party speaking), each announcement is a hold of unknown length: text cannot show a silence
    nobody announced. Where the turns have times, an announcement the agent talks on through (more than
    HOLD_MAX_TALK_MS within HOLD_START_MS: "one second" and the answer) is no hold."""
    turns = conversation.turns
    announcements = [(i, _announced_at(turns[i])) for i, t in enumerate(turns)
                     if t.speaker == AGENT and HOLD_ANNOUNCEMENT.search(t.text.lower())]
    returns = [i for i, t in enumerate(turns) if t.speaker == AGENT and HOLD_RETURN.search(t.text.lower())]
    if silences is None:
        if conversation.timed:
            announcements = [(i, at) for i, at in announcements
                             if _talk_ms(turns, at, at + HOLD_START_MS) <= HOLD_MAX_TALK_MS]
        holds = [Hold(turns[i].begin_ms, turns[i].end_ms, None, moment(conversation, i), None) for i, _ in announcements]
        for r in returns:  # thanks for holding closes the hold before it ("thanks for holding, you're through" opens calls)
            before = [h for h in holds if h.announcement.turn < r]
            if before and before[-1].return_thanks is None:
                before[-1].return_thanks = moment(conversation, r)
        return holds, []
    holds: list[Hold] = []
    dead_air: list[Moment] = []
    by_announcement: dict[int, Hold] = {}
    for s in (s for s in silences if s.position == "between"):
        back = next((i for i, t in enumerate(turns) if t.speaker == AGENT and t.begin_ms >= s.begin_ms), None)
        end = turns[back].begin_ms if back is not None else s.end_ms
        thanks = next((moment(conversation, r) for r in returns if back is not None and back <= r <= back + 2
                       and turns[r].begin_ms - end <= HOLD_START_MS), None)
        told = [i for i, at in announcements if at <= s.begin_ms <= at + HOLD_START_MS
                and _talk_ms(turns, at, s.begin_ms) <= HOLD_MAX_TALK_MS]
        if holds and s.begin_ms < holds[-1].end_ms:  # the customer spoke into the hold; it goes on
            continue
        if told and told[-1] in by_announcement:  # quiet again before the agent said anything new: the same hold
            hold = by_announcement[told[-1]]
            hold.end_ms, hold.duration_ms = end, end - hold.begin_ms
            hold.return_thanks = hold.return_thanks or thanks
        elif told or thanks:
            hold = Hold(s.begin_ms, end, end - s.begin_ms, moment(conversation, told[-1]) if told else None, thanks)
            holds.append(hold)
            if told:
                by_announcement[told[-1]] = hold
        else:
            dead_air.append(span("", s.begin_ms, s.end_ms, f"{s.duration_ms / 1000:.0f} s of silence"))
    return holds, dead_air


def _talk_ms(turns: list[Turn], begin_ms: int, end_ms: int) -> int:
    """How long anyone spoke between two moments, by the words where known (a turn's span holds its
    pauses). Either party: which voice it was may be misjudged on a mono call, that it spoke is not."""
    spans = [(w.begin_ms, w.end_ms) for t in turns for w in (t.words or [Word(t.text, t.begin_ms, t.end_ms)])]
    return sum(max(0, min(b, end_ms) - max(a, begin_ms)) for a, b in spans)


def _announced_at(turn: Turn) -> int:
    """When the hold announcement in ``turn`` ends: at its words when they are known, else the turn's end."""
    match = HOLD_ANNOUNCEMENT.search(turn.text.lower())
    if not turn.words:
        return turn.end_ms
    last_word = min(len(turn.words) - 1, len(turn.text[: match.end()].split()) - 1)
    return turn.words[last_word].end_ms


def distinct_transfers(conversation: Conversation, transfer_turns: list[int]) -> list[int]:
    """One turn per transfer: statements closer than TRANSFER_MERGE_MS (TRANSFER_MERGE_TURNS without
    times) are the same transfer said again; the first statement stands for it."""
    first: list[int] = []
    previous = None
    for i in sorted(transfer_turns):
        if previous is None or (conversation.turns[i].begin_ms - conversation.turns[previous].end_ms > TRANSFER_MERGE_MS
                                if conversation.timed else i - previous > TRANSFER_MERGE_TURNS):
            first.append(i)
        previous = i
    return first


def _customer_turns(conversation: Conversation) -> list[int]:
    return [i for i, t in enumerate(conversation.turns) if t.speaker == CUSTOMER]
