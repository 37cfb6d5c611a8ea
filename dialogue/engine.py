"""The dialogue engine: one message in, the new state and a list of replies out.

:meth:`Engine.step` is pure: it reads the knowledge, the previous state and the clock
value it is given, and returns a new state without touching the old one. Stores,
locks and I/O live in :mod:`dialogue.session`.

Order of work in every turn (the safety rules decide the order):

1. clean the input; button presses are checked against what the engine offered;
2. red flags: an emergency gets the urgent reply first, and nothing else but the
   disclaimer when it is due;
3. length limit, commands (start over, help, menu), consent when required;
4. a pending clarifying question is answered, or abandoned for a new question;
5. refusals (personal dosing or treatment decisions, for patients), out of scope, and the
   in-domain gate (a message with nothing of the subject in it gets the scope reply);
6. the topic: answer, one clarifying question, or a fallback saying what the bot can do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from .lexicon import Reading
from .markup import CITATION
from .model import Audience, Flow, Knowledge, Locale, Rule, Source, Topic
from .replies import Button, Incoming, Reply, ReplyKind, Turn
from .routing import AFTER_PROGRESSION, ENTITY_KINDS, EXPLICIT_SIDE_EFFECTS, LINE_ASPECTS, POINTING_WORDS, PROGRESSION, SIDE_EFFECTS
from .routing import NEXT_WORDS, SUBTYPE_SLOTS
from .routing import ClosingQuestion, Context, Decision, route
from .routing import FOLLOW_UP_OPENERS as THREAD_OPENERS
from .routing import asks_lasting, asks_to_manage, defines_a_fact, is_site, mentions
from .safety import SafetyCheck, check
from .state import ConversationState
from .text import sanitize, small_number, tokens
from .understanding.conversions import asked_conversions
from .understanding.reading import MessageReading, read_message

ANSWER_SCORE = 0.42
#: An aspect guessed this surely keeps its overview card against a weaker match that also covers the aspect.
CLEAR_OVERVIEW = 0.9
#: Where one sentence ends and the next begins.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
#: Words from which a message is long: its closing question, read alone, may name what it asks.
LONG_MESSAGE_WORDS = 40
#: The unit that answers a unit conversion the message asks for (knowledge/units/conversions.yaml).
CONVERSIONS_UNIT = "unit_conversions"
CLARIFY_SCORE = 0.24
#: A card chosen with an aspect less likely than this is checked against its siblings' words, and
#: another card of the entity is answered when its words match the message this many times better
#: and at least this well.
CONTENT_CHECK_BELOW = 0.9
CONTENT_SWITCH = 1.5
CONTENT_SWITCH_MIN = 8.0
#: Among close candidates, one this good and this far ahead is answered rather than asked about.
LEAD_SCORE = 0.35
LEAD_MARGIN = 0.04
#: A sole candidate this good is answered rather than confirmed ("Do you mean ...?").
SOLE_SCORE = 0.30
CLOSE_MARGIN = 0.05
#: A content match (BM25 over what topics say) this strong, and this many times the next topic's
#: score, answers where the example match cannot decide (see ContentIndex).
CONTENT_SCORE = 10.0
CONTENT_LEAD = 1.4
SAFETY_SCAN_CHARS = 20_000
FOLLOW_UP_OPENERS = (*THREAD_OPENERS, ("also",), ("plus",), ("any",))
CONTEXT_WEIGHT = 0.5
#: An aspect guess this sure decides the unit even against a confident example match (see _matcher_knows_better).
STRONG_ASPECT = 0.8
#: Below this, a confident match on a topic that declares nothing wins over the aspect guess.
UNSURE_ASPECT = 0.6
#: Words that ask what comes after a treatment, and words that ask what something means instead.
AFTER_WORDS = frozenset({"after", "options", "option", "choices", "alternatives"})
MEANING_ASKS = frozenset({"mean", "means", "meaning", "difference", "define", "definition", "defined"})
#: Among close candidates, the one whose aspects the classifier finds likeliest is answered (not a menu)
#: when its aspect is at least this likely and this much likelier than any other candidate's.
ASKED_BY_MIN = 0.3
ASKED_BY_MARGIN = 0.15
#: How well a general topic must match to win over a site's only card when the aspect is unknown.
GENERAL_OVER_SITE = 0.7
#: An example match about the same site this close to word for word beats the site's own card.
SAME_SITE_EXACT = 0.9
#: An aspect guess this sure redirects a confident example match that declares other aspects.
SURE_ASPECT = 0.7
#: An example match this strong wins even over an overview chosen for a sure aspect.
STRONG_MATCH = 0.6
#: The least probability of an aspect for a matched topic answering it to be a plausible reading.
PLAUSIBLE_ASPECT = 0.2
#: Words that ask what holds for everyone, whatever the person's subtype ("is chemo always first?"); not
#: "usually", which people also ask of their own case ("what's the usual treatment once it has spread").
GENERAL_WORDS = frozenset({"always", "alway", "everyone", "everybody", "all", "every"})
#: "How do they decide the first treatment?" asks how the choice is made, which is the same for everyone.
DECIDING_WORDS = frozenset({"decide", "decid", "decides", "decided", "choose", "chooses", "chosen", "choos", "pick", "picks"})
ASKING_HOW = frozenset({"how", "what"})
MAX_PENDING_RETRIES = 1
MAX_URGENT = 2  # a message with several emergencies gets the two most important
#: The out-of-scope rule that is the in-domain gate (knowledge/core/scope.yaml): its ``unless``
#: patterns are the domain's words. The engine applies it after the other rules (see Engine.in_domain).
DOMAIN_RULE = "outside_domain"
#: The refusal of personal dosing: after it, a named drug's how-it-is-given card is general information
#: (its label's rule for a missed or vomited dose), never a dose for this person.
PERSONAL_DOSING = "personal_dosing"
#: Lexicon concepts that put a message in the domain on their own: any drug, class, term or slot phrase.
DOMAIN_CONCEPT_KINDS = frozenset({"drug", "class", "term", "slot"})
#: Concepts a message must name for a refusal to be followed by general information (never slot phrases).
NAMED_CONCEPT_KINDS = frozenset({"drug", "class", "term"})
#: A concept that more than this share of topics covers ("stage 4", "side effects") says too little
#: about what a message asks for to pick a topic after a refusal.
GENERIC_SHARE = 1 / 3
#: The shortest example word (as read: "visiting" is "visit") that can tie an otherwise out-of-domain
#: message to a topic (see Engine.in_domain); shorter ones ("time", "run") are too often everyday words.
OWN_WORD_LETTERS = 5
#: Commands that may carry courtesy words after them.
SMALL_TALK = frozenset({"thanks", "greeting"})
#: Words that add nothing to a thanks or a greeting.
COURTESY_WORDS = frozenset({
    "this", "that", "it", "its", "thats", "was", "is", "has", "have", "helped", "helps", "help", "helpful", "useful",
    "very", "so", "much", "a", "lot", "really", "great", "good", "ok", "okay", "you", "for", "the", "info",
    "information", "answer", "answers", "reply", "bye", "goodbye", "take", "care", "nice", "day", "appreciate",
    "appreciated", "brilliant", "lovely", "perfect", "got", "understood", "makes", "sense", "all", "again", "there",
    "morning", "afternoon", "evening", "everyone", "and", "x", "xx", "now", "your", "time", "kind", "clear",
})
#: Words that point back to the previous answer ("can she take it with food?").
BACK_REFERENCES = POINTING_WORDS


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Deployment choices that change behaviour (see :mod:`dialogue.config`)."""

    audience: str = Audience.CLINICIAN.value
    locale: str = "us"
    disclaimer_interval_s: float = 24 * 3600.0
    consent_required: bool = False
    max_message_chars: int = 2000
    preview: bool = False


class Engine:
    """Answers messages from compiled knowledge.

    Args:
        knowledge: the compiled knowledge (see :func:`dialogue.loader.load_knowledge`).
        options: deployment choices.

    Raises:
        ValueError: the options name a locale or audience the knowledge does not have.
    """

    def __init__(self, knowledge: Knowledge, options: EngineOptions | None = None) -> None:
        self.k = knowledge
        self.options = options or EngineOptions()
        if self.options.locale not in knowledge.locales:
            raise ValueError(
                f"locale '{self.options.locale}' is not in the knowledge (have: {', '.join(sorted(knowledge.locales))})"
            )
        if self.options.audience not in (a.value for a in Audience):
            raise ValueError(f"audience must be clinician or patient, not '{self.options.audience}'")
        self.locale: Locale = knowledge.locales[self.options.locale]
        # A place named in a message brings its numbers, never a laxer temperature threshold than
        # the deployment's: someone from a 37.5 °C locale on holiday in a 38.0 °C one keeps 37.5.
        self._thresholds = {lid: _stricter(loc, self.locale) for lid, loc in knowledge.locales.items()}
        self._locale_contexts = {lid: loc.as_context() for lid, loc in self._thresholds.items()}
        places = sorted(((p, lid) for lid, loc in knowledge.locales.items() for p in loc.places), key=lambda x: -len(x[0]))
        self._place_locale = dict(places)
        self._places = re.compile(r"(?<!\S)(" + "|".join(re.escape(p) for p, _ in places) + r")(?!\S)") if places else None
        #: the in-domain gate's rule (None: no gate), see :meth:`in_domain`
        self.domain_rule: Rule | None = next((r for r in knowledge.out_of_scope if r.id == DOMAIN_RULE), None)
        covered: dict[str, int] = {}
        for features in knowledge.index.context.values():
            for feature in features:
                covered[feature] = covered.get(feature, 0) + 1
        most = max(1, int(len(knowledge.index.context) * GENERIC_SHARE))
        #: concepts specific enough to tie a message to a topic (see :meth:`covers`)
        self._specific = frozenset(f for f, n in covered.items() if n <= most)
        self._slot_matters: dict[tuple[Any, ...], bool] = {}  # see slot_matters
        #: topics written for some subtypes only (see _TurnBuilder._written_for)
        self.subtype_topics = tuple(t for t in knowledge.topics.values() if t.applies)
        #: the regimen cards written for one subtype that answer only a later line (see _TurnBuilder._subtype_choices)
        self.later_line_cards = tuple(t for t in self.subtype_topics if t.aspects == (AFTER_PROGRESSION,)
                                      and SUBTYPE_SLOTS.intersection(slot for slot, _ in t.applies))
        #: words of topic examples that one topic alone uses ("zebrafish"), and that topic (see :meth:`in_domain`)
        self._own_word: dict[str, str] = {}
        index = knowledge.index
        for feature, (ids, _) in index.postings.items():
            owners = {index.topic_of[i] for i in ids.tolist()}
            if feature.startswith("w:") and len(feature) - 2 >= OWN_WORD_LETTERS and len(owners) == 1:
                self._own_word[feature[2:]] = owners.pop()

    # --- public ----------------------------------------------------------------------
    def new_state(self, audience: str | None, now: float) -> ConversationState:
        return ConversationState(audience=audience or self.options.audience, created_at=now, updated_at=now)

    def step(self, state: ConversationState | None, incoming: Incoming, now: float) -> Turn:
        """Handle one user action. Never raises for any input."""
        audience = incoming.audience if incoming.audience in ("clinician", "patient") else None
        new = state.copy() if state is not None else self.new_state(audience, now)
        if audience:
            new.audience = audience
        new.turn += 1
        new.updated_at = now
        turn = _TurnBuilder(self, new, now)
        if incoming.payload is not None:
            turn.press(sanitize(incoming.payload)[:200])
        else:
            turn.message(sanitize(incoming.text or ""))
        replies = turn.finish()
        question = turn.reading.clean if turn.unanswered and turn.reading is not None else None
        return Turn(new, replies, turn.unanswered, question)

    def forget_reply(self, audience: str) -> Reply:
        """What the bot says after a conversation was deleted on request."""
        return self.notice("forgotten", audience)

    def notice(self, name: str, audience: str) -> Reply:
        """A fixed message of the knowledge (``messages.NAME``) as a fallback reply, outside any conversation."""
        return Reply(ReplyKind.FALLBACK, self.k.messages[name].render(audience, self.context({}, audience)))

    def urgent_replies(self, incoming: Incoming, audience: str | None = None) -> list[Reply]:
        """Only the safety check of a turn: the urgent replies a message calls for (no state, no matching).

        Used when a turn is not processed (rate limit) so that an emergency still gets its reply.
        """
        if incoming.payload is not None or not incoming.text:
            return []
        audience = audience if audience in ("clinician", "patient") else self.options.audience
        reading = read_message(incoming.text, SAFETY_SCAN_CHARS)
        if not reading.clean.strip():
            return []
        locale = self.locale_named(reading)
        return self.urgent_for(self.check(reading, locale), audience, {}, locale)

    def check(self, reading: MessageReading, locale: str | None = None) -> SafetyCheck:
        """The red flags a read message raises (stated: urgent; asked: advice)."""
        return check(self.k, reading, self._thresholds.get(locale or "", self.locale))

    def locale_named(self, reading: MessageReading) -> str | None:
        """The locale of the place a message names ("I'm in Dublin" -> ie), if a locale lists it.

        The longest place wins where two overlap ("northern ireland" is the UK's, "ireland" not).
        """
        if self._places is None:
            return None
        text = " ".join(reading.words)
        found = list(self._places.finditer(text))
        if not found:
            return None
        # a place said to be where someone is wins over a service's name: "samaritans number in ireland"
        placed = [m for m in found if text[:m.start()].split()[-1:] in (["in"], ["from"])]
        return self._place_locale[(placed or found)[0].group(1)]

    def urgent_for(self, safety: SafetyCheck, audience: str, slots: dict[str, str], locale: str | None = None) -> list[Reply]:
        """The urgent replies of the red flags a message raised (at most two), most important first."""
        ctx = self.context(slots, audience, locale)
        footer = ""
        if audience == "clinician" and "urgent_footer_clinician" in self.k.messages:
            footer = self.k.messages["urgent_footer_clinician"].render(audience, ctx)
        return [Reply(ReplyKind.URGENT, "\n\n".join(p for p in (f.reply.render(audience, ctx), footer) if p), sources=f.sources)
                for f in safety.urgent[:MAX_URGENT]]

    def in_domain(self, reading: Reading, folded: str, audience: str | None = None) -> bool:
        """Whether a message has anything of the bot's subject in it, on its own (no conversation context).

        In the domain: any drug, class, term or slot phrase of the lexicon (brand names and typos
        included); one of the domain words of the knowledge's ``outside_domain`` rule (cancer,
        tumour, chemo, scan, symptoms...), in the message as typed or after typo correction; or a
        confident match with one topic through a word of its examples that no other topic uses,
        when every other word of the message is a word of the topics too ("germline vs somatic",
        a deployment's own "visiting hours" topic). Knowledge without that rule has no gate:
        everything is in the domain.

        Args:
            reading: the message as the lexicon read it (``knowledge.lexicon.read``).
            folded: the message folded for patterns (:attr:`MessageReading.folded`).
            audience: ``clinician`` or ``patient`` (default: the deployment's).
        """
        if any(c.kind in DOMAIN_CONCEPT_KINDS for c in reading.concepts):
            return True
        rule = self.domain_rule
        if rule is None or not rule.matches(audience or self.options.audience, folded, " ".join(reading.words)):
            return True
        ranked = self.k.index.rank(reading.features(), 2)
        top = confident(ranked)
        if top is None:
            return False
        words = reading.loose
        return all(self.k.index.known("w:" + w) for w in words) and any(self._own_word.get(w) == top.topic for w in words)

    def covers(self, topic_id: str, reading: Reading) -> bool:
        """Whether the message names a drug, class or term that the topic is about.

        A topic is about the concepts of its title and examples (``index.context``). Concepts that
        many topics share ("stage 4", "side effects") do not count: "should I take a break because
        of the side effects?" names no drug, and no topic is about what it asks.
        """
        context = self.k.index.context.get(topic_id, {})
        return any(c.kind in NAMED_CONCEPT_KINDS and c.id in context and c.id in self._specific for c in reading.concepts)

    def slot_matters(self, topic: Topic, slot: str, known: dict[str, str], audience: str) -> bool:
        """Whether the answer depends on the slot's value enough to ask it, given what is already known.

        "First line for HER2-positive disease" needs no menopausal status although the topic
        needs it for HR-positive disease, and mostly reads the same whatever the HR status: a
        question is asked only when the values' answers differ and the general answer (slot not
        known) is not mostly what they all say. Decided by rendering each value (cached).
        """
        if slot not in topic.answer.variables:
            return True  # the template cannot tell: keep the author's rule
        relevant = tuple(sorted((k, v) for k, v in known.items() if k in topic.answer.variables))
        key = (topic.id, slot, audience, relevant)
        cached = self._slot_matters.get(key)
        if cached is None:
            base = dict(relevant)
            texts = [
                topic.answer.render(audience, self.context({**base, slot: v.value}, audience))
                for v in self.k.slots[slot].values if v.value != "unknown"
            ]
            general = topic.answer.render(audience, self.context(base, audience))
            cached = len(set(texts)) > 1 and not _mostly_shared(general, texts)
            if len(self._slot_matters) < 10_000:
                self._slot_matters[key] = cached
        return cached

    # --- helpers shared with the turn builder ---------------------------------------------
    def context(self, slots: dict[str, str], audience: str, locale: str | None = None) -> dict[str, Any]:
        ctx: dict[str, Any] = {s: slots.get(s) for s in self.k.slots}
        ctx["locale"] = self._locale_contexts.get(locale or "", self._locale_contexts[self.locale.id])
        ctx["audience"] = audience
        ctx["conversions"] = ()
        return ctx


def _stricter(locale: Locale, deployment: Locale) -> Locale:
    """``locale`` with the deployment's fever thresholds wherever they are the stricter ones."""
    lows = [t for t in (locale.low_temperature_c, deployment.low_temperature_c) if t is not None]
    return replace(locale, fever_c=min(locale.fever_c, deployment.fever_c), fever_f=min(locale.fever_f, deployment.fever_f),
                   low_temperature_c=max(lows) if lows else None)


class _TurnBuilder:
    """The work of one turn; collects replies in the order the user will see them."""

    def __init__(self, engine: Engine, state: ConversationState, now: float) -> None:
        self.e = engine
        self.k = engine.k
        self.s = state
        self.now = now
        self.urgent: list[Reply] = []
        self.replies: list[Reply] = []
        self._suggested: dict[str, str] = {}  # the facts a message's drugs suggest, for this turn
        self.disclaimer_done = False
        self.offer_consent = False  # a greeting before consent shows the consent prompt
        self.unanswered: str | None = None  # "fallback" or "clarify" (see Turn.unanswered)
        self.reading: MessageReading | None = None  # the message, read once for every stage

    # --- output ------------------------------------------------------------------------
    @property
    def audience(self) -> str:
        return self.s.audience

    def say(self, name: str, kind: ReplyKind = ReplyKind.FALLBACK, buttons: tuple[Button, ...] = (), **extra: Any) -> None:
        self.replies.append(Reply(kind, self.render(name, **extra), buttons))

    def context(self) -> dict[str, Any]:
        """What a template of this conversation may read: its slots, audience and locale."""
        return self.e.context(self.s.slots, self.audience, self.s.locale)

    def render(self, name: str, **extra: Any) -> str:
        return self.k.messages[name].render(self.audience, {**self.context(), **extra})

    def finish(self) -> list[Reply]:
        disclaimer: list[Reply] = []
        if not self.disclaimer_done and (self._disclaimer_due() or (self.offer_consent and self._consent_pending())):
            # While consent is pending, the disclaimer carries the button that gives it.
            if self._consent_pending():
                # a welcome, then the note and its "I understand" button, last
                return self.urgent + self.replies + [self._disclaimer((Button(self.k.consent_button, "c:yes"),))]
            disclaimer = [self._disclaimer()]
        return self.urgent + disclaimer + self.replies

    def _consent_pending(self) -> bool:
        return self.e.options.consent_required and self.s.consented_at is None

    def _disclaimer_due(self) -> bool:
        last = self.s.disclaimer_at
        return last is None or self.now - last >= self.e.options.disclaimer_interval_s

    def _disclaimer(self, buttons: tuple[Button, ...] = ()) -> Reply:
        self.s.disclaimer_at = self.now
        self.disclaimer_done = True
        return Reply(ReplyKind.DISCLAIMER, self.k.disclaimers[self.audience], buttons)

    # --- entry points ------------------------------------------------------------------
    def press(self, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        if kind == "t" and rest in self.k.topics:
            if self._consent_gate(None):
                self.s.pending = None
                self.answer_topic(rest)
        elif kind == "a":
            self._press_option(rest)
        elif kind == "c" and rest == "yes":
            self._give_consent()
        elif kind == "m" and rest == "":
            self.menu()
        elif kind == "m" and rest in self.k.families:
            self.menu_family(rest)
        elif kind == "r" and rest == "":
            self.reset()
        else:
            self.say("unknown_button")

    def message(self, text: str) -> None:
        if not text.strip():
            self.say("empty")
            return
        reading = self.reading = read_message(text, SAFETY_SCAN_CHARS)
        self.s.locale = self.e.locale_named(reading) or self.s.locale
        safety = self.e.check(reading, self.s.locale)
        if safety.urgent:
            self._urgent(safety)
            if all(f.answer_after for f in safety.urgent) and len(text) <= self.e.options.max_message_chars:
                self._answer_after_urgent(reading, safety)
            return
        if len(text) > self.e.options.max_message_chars:
            self.say("too_long", length=len(text), limit=self.e.options.max_message_chars)
            return
        folded = reading.folded
        words = list(reading.words)
        key = tuple(words)
        commands = self.k.commands
        if commands["reset"].match(key):
            self.reset()
            return
        if self.s.consented_at is None and self.e.options.consent_required and self.k.consent_accepts.match(key):
            self._give_consent()
            return
        for name, action in (("help", self.help), ("menu", self.menu), ("greeting", self.greet), ("thanks", self.thanks)):
            if commands[name].match(key) or (name in SMALL_TALK and _courteous(commands[name], key)):
                action()
                return
        if not self._consent_gate(text):
            return
        lexical = self.k.lexicon.read(words)
        if self.s.pending and self.s.pending.get("kind") == "flow" and self._answer_flow(key, lexical, folded):
            return
        self.s.pending = None
        conversions = asked_conversions(reading)
        if conversions and CONVERSIONS_UNIT in self.k.topics:
            # "what is 100.4 in Celsius?": arithmetic on the message's own figures, with the factors' sources
            self.answer_topic(CONVERSIONS_UNIT, ask_missing=False, advice=safety.about, extra={"conversions": tuple(conversions)})
            return
        self.understand(lexical, folded, safety)

    # --- safety ------------------------------------------------------------------------
    def _urgent(self, safety: SafetyCheck) -> None:
        self.urgent.extend(self.e.urgent_for(safety, self.audience, self.s.slots, self.s.locale))

    def _answer_after_urgent(self, reading: MessageReading, safety: SafetyCheck) -> None:
        """After the urgent reply, still answer the question the message asked, if it clearly asked one.

        Only a confident answer is added: never a menu, a clarifying question, a refusal
        ("what should we do?" is answered by the urgent reply) or "I don't know", which would
        bury the urgent advice.
        """
        if self.e.options.consent_required and self.s.consented_at is None:
            return
        lexical = self.k.lexicon.read(list(reading.words))
        with self._facts(lexical):
            flag_topic = next((f.topic for f in safety.urgent if f.topic), None)
            one_sentence = not reading.tokens or reading.tokens[-1].sentence == reading.tokens[0].sentence
            if reading.question and one_sentence and flag_topic and self._servable(self.k.topics[flag_topic]):
                # "temp 38.4 since chemo, is that bad?" asks about the emergency itself
                self.answer_topic(flag_topic, ask_missing=False)
                return
            card = self._leading_card(lexical)
            if card is not None:
                # "she's having a fit, what do we do?": the seizure card, whatever the matcher's examples say
                self.answer_topic(card, ask_missing=False)
                return
            top = confident(self.k.index.rank(lexical.features()))
            if top is not None and self._servable(self.k.topics[top.topic]):
                self.answer_topic(top.topic, ask_missing=False)

    def _leading_card(self, lexical: Reading) -> str | None:
        """The one card of a leading term the message names (a seizure, a port or PICC line), if routing finds it."""
        decision = route(self.k, lexical, Context(None, None))
        if not decision.resolved or len(decision.units) != 1 or decision.entity is None:
            return None
        named = next((c for c in lexical.concepts if c.id == decision.entity), None)
        if named is None or named.kind != "term" or not named.leads:
            return None
        if any(is_site(self.k, c.id) for c in lexical.concepts):
            return None  # "having seizures, is that from brain mets?" asks about the site
        unit = decision.units[0]
        return unit if self._servable(self.k.topics[unit]) else None

    # --- consent -----------------------------------------------------------------------
    def _consent_gate(self, question: str | None) -> bool:
        """True if answers may be given; otherwise asks for consent and keeps the question."""
        if not self.e.options.consent_required or self.s.consented_at is not None:
            return True
        if question is not None:
            self.s.pending = {"kind": "consent", "question": question[: self.e.options.max_message_chars]}
        self.replies.append(self._disclaimer((Button(self.k.consent_button, "c:yes"),)))
        self.say("consent_needed")
        return False

    def _give_consent(self) -> None:
        first = self.s.consented_at is None
        if first:
            self.s.consented_at = self.now
        if not self.disclaimer_done and self.s.disclaimer_at is None:
            self.s.disclaimer_at = self.now  # the consent prompt showed it
        self.disclaimer_done = True
        pending = self.s.pending if self.s.pending and self.s.pending.get("kind") == "consent" else None
        self.s.pending = None
        if pending and isinstance(pending.get("question"), str):
            self.message(pending["question"])  # answer what was asked before consent
        elif first:
            self.say("consent_thanks", buttons=self._family_buttons())
        else:
            self.help()

    # --- commands ----------------------------------------------------------------------
    def reset(self) -> None:
        self.s.slots.clear()
        self.s.last_topic = None
        self.s.last_entity = self.s.last_aspect = None
        self.s.pending = None
        self.say("reset_done", buttons=self._family_buttons())

    def help(self) -> None:
        self.say("help", buttons=self._family_buttons())

    def greet(self) -> None:
        self.offer_consent = True
        self.say("greeting", buttons=() if self._consent_pending() else self._family_buttons())

    def thanks(self) -> None:
        self.say("thanks")

    def menu(self) -> None:
        self.say("menu", buttons=self._family_buttons())

    def menu_family(self, family: str) -> None:
        buttons = tuple(
            Button(_short(t.title), f"t:{t.id}") for t in self.k.topics.values() if t.family == family and self._servable(t)
        )
        self.say("menu_family", buttons=buttons[:12], family=self.k.families[family].title)

    def _family_buttons(self) -> tuple[Button, ...]:
        used = {t.family for t in self.k.topics.values() if self._servable(t)}
        return tuple(Button(f.title, f"m:{f.id}") for f in self.k.families.values() if f.id in used)

    # --- clarifying questions -----------------------------------------------------------
    def _ask(self, topic: Topic, flow_id: str, state_id: str, retry: int = 0) -> None:
        flow = self.k.flows[flow_id]
        fstate = flow.states[state_id]
        self.s.pending = {"kind": "flow", "topic": topic.id, "flow": flow_id, "state": state_id, "turn": self.s.turn, "retry": retry}
        text = fstate.ask.render(self.audience, self.context())
        buttons = tuple(Button(o.label, f"a:{self.s.turn}:{i}") for i, o in enumerate(fstate.options))
        self.replies.append(Reply(ReplyKind.CLARIFY, text, buttons, topic=topic.id))

    def _offer(self, topic: Topic, flow: Flow) -> tuple[Button, ...]:
        """The general answer is given; the choices of the question it skipped go under it as buttons.

        Pressing one answers again for that value; typing anything else is a new question.
        """
        fstate = flow.states[flow.start]
        self.s.pending = {"kind": "flow", "topic": topic.id, "flow": flow.id, "state": flow.start, "turn": self.s.turn,
                          "retry": 0, "offered": True}
        return tuple(Button(o.label, f"a:{self.s.turn}:{i}") for i, o in enumerate(fstate.options))

    def _flow_for(self, slot: str) -> Flow:
        """The flow to ask a missing slot: one that asks nothing already known, if there is one.

        With nothing known, "Which subtype?" asks HR and HER2 at once; once HER2 is known,
        only the HR question is asked.
        """
        candidates = [self.k.flows[f] for f in self.k.flow_for_slot[slot]]
        fresh = [f for f in candidates if not any(s in self.s.slots for s in f.fills)]
        return (fresh or sorted(candidates, key=lambda f: len(f.fills)))[0]

    def _pending_flow(self) -> tuple[Topic, Any, Any] | None:
        p = self.s.pending or {}
        topic = self.k.topics.get(str(p.get("topic")))
        flow = self.k.flows.get(str(p.get("flow")))
        fstate = flow.states.get(str(p.get("state"))) if flow else None
        if p.get("kind") != "flow" or topic is None or flow is None or fstate is None:
            return None
        return topic, flow, fstate

    def _press_option(self, rest: str) -> None:
        turn_text, _, index_text = rest.partition(":")
        found = self._pending_flow()
        index = small_number(index_text)
        if small_number(turn_text) is None or index is None:
            self.say("unknown_button")
            return
        if found is None or str(self.s.pending.get("turn")) != turn_text:  # type: ignore[union-attr]
            self.say("stale_button")
            return
        topic, flow, fstate = found
        if index >= len(fstate.options):
            self.say("unknown_button")
            return
        self._choose(topic, flow, fstate.options[index])

    def _choose(self, topic: Topic, flow: Any, option: Any) -> None:
        self.s.slots.update(dict(option.sets))
        if option.goto:
            self._ask(topic, flow.id, option.goto)
        else:
            self.s.pending = None
            self.answer_topic(topic.id)

    def _answer_flow(self, key: tuple[str, ...], reading: Reading, folded: str) -> bool:
        """Try to read the message as the answer to the pending question."""
        found = self._pending_flow()
        if found is None:
            self.s.pending = None
            return False
        topic, flow, fstate = found
        for option in fstate.options:
            if key in option.accepts:
                self._choose(topic, flow, option)
                return True
        stated = {slot: value for slot, value in reading.sets.items() if slot in flow.fills}
        if stated:
            self.s.slots.update(reading.sets)
            self.s.pending = None
            self.answer_topic(topic.id)
            return True
        if self.s.pending and self.s.pending.get("offered"):
            return False  # the choice was offered under an answer, not asked: this is a new question
        ranked = self.k.index.rank(reading.features(), 1)
        if ranked and ranked[0].score >= ANSWER_SCORE:
            return False  # a new question: leave the pending one behind
        retry = int(self.s.pending.get("retry", 0)) if self.s.pending else 0
        if retry >= MAX_PENDING_RETRIES:
            self.s.pending = None
            return False
        self.say("not_understood")
        self._ask(topic, flow.id, fstate.id, retry + 1)
        return True

    # --- understanding -----------------------------------------------------------------
    @contextmanager
    def _facts(self, reading: Reading) -> Iterator[None]:
        """Keep the facts a message states; use those its drugs suggest, where nothing is known yet,
        while the turn is answered.

        Suggested facts hold for this turn only ("progressed on palbo, what next?" needs no subtype
        question), so a later question is never refused a topic for a fact nobody stated ("what is
        maintenance therapy?" after a question about a CDK4/6 inhibitor); they stay only when a
        question now waits on them (a subtype flow).
        """
        self.s.slots.update(reading.sets)
        suggested: dict[str, str] = {}
        for slot, value in reading.suggested.items():
            if self.s.slots.get(slot, "unknown") == "unknown":
                self.s.slots[slot] = suggested[slot] = value
        self._suggested = suggested
        try:
            yield
        finally:
            self._suggested = {}
            if not (self.s.pending and self.s.pending.get("kind") == "flow"):
                for slot, value in suggested.items():
                    if self.s.slots.get(slot) == value:
                        del self.s.slots[slot]

    def understand(self, reading: Reading, folded: str, safety: SafetyCheck) -> None:
        with self._facts(reading):
            self._understand(reading, folded, safety)

    def _understand(self, reading: Reading, folded: str, safety: SafetyCheck) -> None:
        audience = self.audience
        corrected = " ".join(reading.words)  # "should i stop my tamoxifin" as "... tamoxifen"
        for rule in self.k.refusals:
            if rule.matches(audience, folded, corrected):
                self._refuse(rule, reading, safety)
                return
        for rule in self.k.out_of_scope:
            if rule.id != DOMAIN_RULE and rule.matches(audience, folded, corrected):
                self._scope_reply(rule)
                return
        # the in-domain gate; a question about an emergency ("what if she can't breathe?") gets its advice
        gate = self.e.domain_rule
        follow_up = self._leans_on_last_answer(reading)
        if gate is not None and not safety.about and not follow_up and not self.e.in_domain(reading, folded, audience):
            self._scope_reply(gate)
            self.unanswered = "fallback"  # kept for the authors (record_unanswered): the gate may miss a word
            return
        features = reading.features()
        closing = self._closing_question()
        decision = route(self.k, reading, Context(self.s.last_entity, self.s.last_aspect), closing)
        decision = self._asked_at_the_end(reading, decision, closing)
        only_slots = bool(reading.sets) and all(c.kind == "slot" for c in reading.concepts) and not reading.loose
        if only_slots and self.s.last_topic in self.k.topics and not self._defines(reading, decision):
            # "what if she is premenopausal?"; "sorry, I meant HER2 positive" moves to the topic for that subtype
            fitting = self._fitting(self.s.last_topic)
            if fitting is not None:
                self.answer_topic(fitting, advice=safety.about)
                return
        ranked = self._rank(reading, features)
        stated = {k: v for k, v in self.s.slots.items() if k not in self._suggested}  # a drug's suggestion never bars a unit
        if decision.resolved and all(self._servable(self.k.topics[u]) and self.k.topics[u].applies_to(stated)
                                     for u in decision.units) and not self._matcher_knows_better(
            decision, ranked, reading
        ):
            self.answer_units(self._checked_by_content(decision, reading), safety)
            return
        tentative = self.k.topics.get(decision.tentative) if decision.tentative else None
        if (tentative is not None and self._servable(tentative) and tentative.applies_to(self.s.slots)
                and not self._match_plausible(confident(ranked), decision, reading)):
            self.answer_units(replace(decision, units=(tentative.id,), tentative=None), safety)
            return
        if not ranked and safety.about:
            flag = safety.about[0]
            if flag.topic:
                self.answer_topic(flag.topic, advice=safety.about)
            else:
                self._advice_only(safety)
            return
        self.decide(ranked, safety, decision.aspect, decision.probability, decision.entity, reading, decision.guesses)

    def _asked_at_the_end(self, reading: Reading, decision: Decision, closing: ClosingQuestion | None) -> Decision:
        """In a long message, the unit its closing question names on its own: the story before it (children,
        work, a man with breast cancer) is the scene ("...she's on Piqray and her sugar is high. Is that common?")."""
        if closing is None or len(reading.words) < LONG_MESSAGE_WORDS:
            return decision
        # (with the slots the whole message states: "she is HR positive ... will Trodelvy still work?")
        question = replace(closing.reading, sets={**reading.sets, **closing.reading.sets},
                           suggested={**reading.suggested, **closing.reading.suggested})
        asked = route(self.k, question, Context())
        named = {c.id for c in closing.reading.concepts}
        if (asked.resolved and asked.entity is not None and asked.entity in named
                and asked.entity != decision.entity and decision.entity not in named and not asked.carried):
            return asked
        return decision

    def _closing_question(self) -> ClosingQuestion | None:
        """A question that closes statements ("the palliative team want me on morphine. won't I get
        addicted?"), read on its own; None for a single sentence or no closing question."""
        if self.reading is None or not self.reading.body.rstrip().endswith("?"):
            return None  # (most messages: no split and no second read)
        parts = [p for p in SENTENCE_END.split(self.reading.body.strip()) if p.strip()]
        if len(parts) < 2 or not parts[-1].rstrip().endswith("?"):
            return None
        before = {c.id for c in self.k.lexicon.read(tokens(" ".join(parts[:-1]))).concepts}
        question = self.k.lexicon.read(tokens(parts[-1]))
        return ClosingQuestion(question, frozenset(c.id for c in question.concepts if c.id not in before))

    def _subtype_choices(self, aspect: str | None, named_drug: bool, reading: Reading | None) -> tuple[str, ...]:
        """The cards written for each subtype that answer only a later line (its regimen cards), when the message
        asks for one and neither it (no drug, class or subtype named) nor the conversation says which subtype."""
        if (aspect != AFTER_PROGRESSION or named_drug or reading is None
                or SUBTYPE_SLOTS.intersection(self.s.slots)
                or any(c.kind in ENTITY_KINDS for c in reading.concepts)
                # asked for the options ("2L options?", "what's next after the first treatment?"), not what a
                # line or progression means ("what is a 2nd line treatment", "does that mean it failed?")
                or not (NEXT_WORDS.intersection(reading.tagged) or AFTER_WORDS.intersection(reading.words))
                or MEANING_ASKS.intersection(reading.words)):
            return ()
        found = tuple(t.id for t in self.e.later_line_cards if self._servable(t))
        return found if len(found) >= 2 else ()

    def _written_for(self, aspect: str) -> str | None:
        """The one topic answering ``aspect`` that is written for the person's known subtype, if exactly one."""
        known = {k: v for k, v in self.s.slots.items() if v != "unknown"}
        found = [t.id for t in self.e.subtype_topics
                 if aspect in t.aspects and all(slot in known for slot, _ in t.applies) and t.applies_to(known)
                 and self._servable(t)]
        return found[0] if len(found) == 1 else None

    def _fitting(self, topic_id: str) -> str | None:
        """The topic itself if it fits the person's subtype, else its sibling written for it, if any."""
        topic = self.k.topics[topic_id]
        if topic.applies_to(self.s.slots):
            return topic_id
        context = self.k.index.context.get(topic_id)
        if not context:
            return None
        for candidate in self.k.index.rank(dict(context), 12):
            other = self.k.topics[candidate.topic]
            if other.id != topic_id and other.applies and other.applies_to(self.s.slots) and set(other.aspects) & set(topic.aspects):
                return other.id
        return None

    def _defines(self, reading: Reading, decision: Decision) -> bool:
        """Whether a message naming only a fact asks what it means ("what does HER2 zero mean?")
        rather than how it changes the last answer ("what if she is HER2 zero?")."""
        return decision.aspect == "what" and decision.probability >= STRONG_ASPECT and not self._leans_on_last_answer(reading)

    def _matcher_knows_better(self, decision: Decision, ranked: list[Any], reading: Reading) -> bool:
        """A confident example match on a topic about the same drug wins over a hesitant aspect guess.

        "whats after kadcyla" matches the HER2-positive later-lines topic well while the classifier
        hesitates between what T-DM1 is and what comes after it. The topic must answer an aspect
        the message plausibly asks: "tamoxifen moa" matches the tamoxifen side-effects topic (it
        names tamoxifen), but nothing in it asks about side effects.
        """
        top = confident(ranked)
        if top is None or top.topic in decision.units or decision.carried:
            return False
        topic = self.k.topics[top.topic]
        if decision.by_card:
            subtype = SUBTYPE_SLOTS.intersection(reading.sets) or SUBTYPE_SLOTS.intersection(reading.suggested)
            if (decision.aspect in LINE_ASPECTS and subtype
                    and topic.aspects and decision.aspect not in topic.aspects):
                return False  # "hormone positive, spread to her liver: what will they give?" is the first-line overview
            if decision.aspect in LINE_ASPECTS and subtype and top.score < STRONG_MATCH:
                return False  # "HER2 positive, spread to the liver, what do they start with?": the liver is no visceral crisis
            # an overview chosen for a sure aspect stands against a match that declares other aspects
            # ("ER+ HER2- spread to her bones, what do people get first?" is not "what stage 4 means")
            # (the glossary, the overview of "what", is too general to stand against any match)
            sure = decision.aspect not in (None, "what") and decision.probability >= SURE_ASPECT
            named = {c.id for c in reading.concepts}
            if topic.entities and decision.entity in named and not named.intersection(topic.entities) and top.score < STRONG_MATCH:
                return False  # "CA 15-3 in monitoring MBC per ASCO?": a match about things the message does not name
            if (not topic.entities and topic.aspects and any(c.id == decision.entity and c.leads for c in reading.concepts)
                    and all(decision.likelihood(a) < PLAUSIBLE_ASPECT for a in topic.aspects)):
                return False  # "CA 15-3 / CEA: role in MBC monitoring?": the concept's card, not a general one the question's shape rules out
            if (decision.entity is None and not named.intersection(topic.entities) and top.score < STRONG_MATCH
                    and any(e.split(":", 1)[0] in ENTITY_KINDS for e in topic.entities)):
                return False  # "when to recommend stopping systemic therapy?": a drug's card, and no drug named
            if (decision.aspect in LINE_ASPECTS and decision.entity is not None and decision.entity.startswith("term:")
                    and not SUBTYPE_SLOTS.intersection(reading.sets) and not any(c.kind in ENTITY_KINDS for c in reading.concepts)):
                return False  # "insomnia: CBT-I first line?" asks the symptom's first-line management, not the cancer's
            if (decision.aspect == "what" and decision.probability >= SURE_ASPECT and defines_a_fact(self.k, reading)
                    and topic.aspects and "what" not in topic.aspects):
                return False  # "what does first line mean?" asks for the word, not the first-line options
            if self._only_it_would_ask(topic, decision):
                return False  # "is surgery the first thing they do?": the local-therapy card answers; first line would ask the subtype
            if sure and decision.probability >= CLEAR_OVERVIEW and not named.intersection(topic.entities):
                return top.score >= STRONG_MATCH  # "rough median OS by subtype in MBC": the outlook card, not a card that also covers it
            return top.score >= STRONG_MATCH or not (sure and topic.aspects and decision.aspect not in topic.aspects)
        if (decision.entity is not None and decision.entity.startswith("term:") and decision.aspect == SIDE_EFFECTS
                and not self._leads_as_question(decision.entity) and SIDE_EFFECTS in topic.aspects
                and decision.entity not in topic.entities and any(self._about_drug(topic, c) for c in reading.concepts)
                and not asks_to_manage(reading) and not asks_lasting(reading.words)
                and not (self._card_names_the_drug(decision, reading) and decision.entity not in mentions(self.k, top.topic))):
            # "does chemo make you tired all the time": a symptom's card is general; a topic matched
            # this well on the treatment the message names, for the same aspect, is more to the point
            # (but "mouth ulcers on chemo, what can I eat?" asks how to cope: the symptom's card, and
            # "acupuncture for AI arthralgia?" asks about acupuncture, a term that leads; "numb fingers after
            # paclitaxel, is it permanent?" asks how long it lasts, which the symptom's card says)
            return True
        if decision.probability >= STRONG_ASPECT:
            return False
        if decision.aspect is None:
            # a site's only card, chosen without knowing what is asked: a general topic matched
            # this well knows more ("will my mum need a brain scan" is about the work-up)
            # (or a topic about the same site that matches almost word for word: "cancer in her bones,
            # what can help" is its treatment); but not one that would first ask for the subtype
            # when the card answers now ("first treatment for a man with stage 4?")
            if self._only_it_would_ask(topic, decision):
                return False
            if (decision.entity is not None and decision.entity.startswith("term:") and not topic.entities
                    and not is_site(self.k, decision.entity)
                    and any(c.id == decision.entity and c.leads for c in reading.concepts)):
                return False  # "Macmillan number": a leading concept's own card, not a general topic sharing a word
            return ((not topic.entities and top.score >= GENERAL_OVER_SITE)
                    or (decision.entity in topic.entities and top.score >= SAME_SITE_EXACT))
        if not topic.entities and not topic.aspects:
            # a topic that declares nothing ("clinical trials") may be exactly what a hesitant guess missed
            return decision.probability < UNSURE_ASPECT
        if decision.entity not in topic.entities:
            return False
        enough = max(PLAUSIBLE_ASPECT, decision.probability / 2)
        return not topic.aspects or any(decision.likelihood(a) >= enough for a in topic.aspects)

    def _would_ask(self, topic: Topic) -> bool:
        """Whether answering the topic now would first ask for a fact it depends on."""
        return self._slot_plan(topic)[0] is not None

    def _only_it_would_ask(self, topic: Topic, decision: Decision) -> bool:
        """Whether a matched topic would first ask for a fact while the decided units can answer now."""
        return self._would_ask(topic) and not any(self._would_ask(self.k.topics[u]) for u in decision.units)

    def _slot_plan(self, topic: Topic) -> tuple[str | None, dict[str, Any]]:
        """The fact to ask before answering (None if none), and the usual value assumed for at most one other.

        "Hormone positive, what's first?" is answered for HER2-negative, saying so; a fact the answer
        depends on that has no usual value is asked.
        """
        assumed: dict[str, Any] = {}  # slot -> the `usually` entry answered for (at most one)
        for slot in topic.needs:
            known = {**self.s.slots, **{s: e[1] for s, e in assumed.items()}}
            if slot not in known and self.e.slot_matters(topic, slot, known, self.audience):
                usual = self.k.slots[slot].usual_entry(known)
                if usual is not None and not assumed:
                    assumed[slot] = usual
                    continue
                if self._asks_in_general():
                    continue  # "is chemo always first in stage 4?" is answered in general, the slot a button away
                return slot, assumed
        return None, assumed

    def _asks_in_general(self) -> bool:
        """Whether the message asks what holds for everyone ("always", "everyone", "how do they decide"),
        not for this person."""
        if self.reading is None:
            return False
        words = self.reading.words
        return bool(GENERAL_WORDS.intersection(words)) or (
            bool(DECIDING_WORDS.intersection(words)) and bool(ASKING_HOW.intersection(words)))

    def _match_plausible(self, top: Any, decision: Decision, reading: Reading) -> bool:
        """Whether a confident match may answer what the message asks: a side-effects topic matched on
        a drug's name when the classifier all but ruled out side effects ("I still have periods, can I
        have Kisqali?") is not, and the hesitant guess about the named drug is answered instead; nor is
        a topic about other things than the message names, matched on its wording alone ("CDK4/6i
        beyond progression: evidence?" is not the evidence for T-DXd)."""
        if top is None:
            return False
        topic = self.k.topics[top.topic]
        named = {c.id for c in reading.concepts}
        drugs = [e for e in topic.entities if e.split(":", 1)[0] in ENTITY_KINDS]
        if decision.entity in named and drugs and not named.intersection(topic.entities) and not any(
            self._about_drug(topic, c) for c in reading.concepts
        ):
            return False  # a drug's topic for a message that names neither the drug nor its class
        if (decision.entity in named and decision.entity.startswith("term:") and not topic.entities
                and top.score < STRONG_MATCH and decision.tentative in self.k.entity_units.get(decision.entity, ())):
            return False  # "a PALB2 change: can I have a PARP tablet?": the PALB2 card, not a general topic's wording
        aspects = set(topic.aspects)
        if aspects != {SIDE_EFFECTS} or not decision.guesses:
            return True  # a broader topic may answer more than it declares
        if PROGRESSION in named and decision.aspect == AFTER_PROGRESSION:
            return False  # "it grew on Kisqali, can I swap to Verzenio?" asks what comes next, not about side effects
        return decision.likelihood(SIDE_EFFECTS) >= PLAUSIBLE_ASPECT

    def _card_names_the_drug(self, decision: Decision, reading: Reading) -> bool:
        """Whether the card chosen for a symptom or concept itself names a drug the message names, so it is not
        the general card a drug's own card beats ("antidepressant for a patient on ribociclib?": the mood card
        says what to avoid with it)."""
        drugs = _drugs_named(reading)
        if any(c.id == EXPLICIT_SIDE_EFFECTS for c in reading.concepts):
            return False  # "Dato-DXd: key AEs, eye and mouth care?" asks for the drug's side effects
        return bool(drugs) and any(drugs & mentions(self.k, u) for u in decision.units if u in self.k.topics)

    def _leads_as_question(self, concept_id: str) -> bool:
        """Whether a lexicon term leads and names no symptom: the question itself (herbal remedies, travel), not
        something a drug may cause (high calcium from a tamoxifen flare)."""
        found = self.k.lexicon.concept(concept_id)
        hints = self.k.aspect_model.hints if self.k.aspect_model is not None else {}
        return found is not None and found.leads and hints.get(concept_id) != SIDE_EFFECTS

    def _about_drug(self, topic: Topic, concept: Any) -> bool:
        """Whether a drug or class the message names (or a class it belongs to) is what the topic is about."""
        if concept.kind not in ENTITY_KINDS:
            return False
        found = self.k.lexicon.concept(concept.id)
        if concept.id in topic.entities or any(c in topic.entities for c in (found.implies if found else ())):
            return True
        members = (self.k.lexicon.concept(e) for e in topic.entities)  # "chemo": a topic about paclitaxel
        return any(m is not None and concept.id in m.implies for m in members)

    def answer_units(self, decision: Decision, safety: SafetyCheck) -> None:
        """Answer the units a question resolved to; they become the thread follow-ups lean on."""
        for i, unit in enumerate(decision.units):
            self.answer_topic(unit, ask_missing=True, advice=safety.about if i == 0 else ())
            if self.replies and self.replies[-1].kind is ReplyKind.CLARIFY:
                break  # a unit asked for a slot its answer depends on: one question at a time
        self.s.last_entity = decision.entity
        self.s.last_aspect = decision.aspect

    def _scope_reply(self, rule: Rule) -> None:
        text = rule.reply.render(self.audience, self.context())
        self.replies.append(Reply(ReplyKind.FALLBACK, text, self._family_buttons()))

    def _refuse(self, rule: Rule, reading: Reading, safety: SafetyCheck) -> None:
        """The refusal, then general information only about what the message named (its drug, class or term).

        The best topic is answered when it is a confident match and covers a concept the message
        names; a weaker match that covers one is offered as a button under the refusal; anything
        else is left out. The advice of a red flag the message asks about ("should I stop Xeloda if
        I get a fever?") is never dropped: it goes with the information, or alone.
        """
        text = rule.reply.render(self.audience, self.context())
        decision = route(self.k, reading, Context(self.s.last_entity, self.s.last_aspect))
        units = [u for u in decision.units if self._servable(self.k.topics[u]) and self.k.topics[u].applies_to(self.s.slots)]
        about_concept = decision.entity is not None and decision.entity.split(":", 1)[0] not in ENTITY_KINDS
        # "forgot my Kisqali last night, take 2 today?": the label's rule for a missed dose is on its card
        drug_given = rule.id == PERSONAL_DOSING and decision.aspect == "how_given" and decision.entity is not None
        if units and len(units) == len(decision.units) and not decision.carried and (about_concept or drug_given):
            # "should my mum have the BRCA test?": the decision is hers and her team's; what the test is, is ours
            self.replies.append(Reply(ReplyKind.REFUSAL, text))
            self.say("refusal_general_info")
            self.answer_topic(units[0], ask_missing=False, advice=safety.about)
            return
        ranked = self._rank(reading)
        top = ranked[0] if ranked else None
        if top is not None and not (self.e.covers(top.topic, reading) and self._servable(self.k.topics[top.topic])):
            top = None
        buttons: tuple[Button, ...] = ()
        if top is not None and CLARIFY_SCORE <= top.score < ANSWER_SCORE:
            buttons = (Button(_short(self.k.topics[top.topic].title), f"t:{top.topic}"),)
        self.replies.append(Reply(ReplyKind.REFUSAL, text, buttons))
        if top is not None and top.score >= ANSWER_SCORE:
            self.say("refusal_general_info")
            self.answer_topic(top.topic, ask_missing=False, advice=safety.about)
        elif safety.about:
            self._advice_only(safety)

    def _leans_on_last_answer(self, reading: Reading) -> bool:
        """A follow-up to the previous answer ("what about for her?", "can she take it with food?")."""
        if self.s.last_topic not in self.k.topics:
            return False
        words = reading.words
        return any(words[: len(o)] == o for o in FOLLOW_UP_OPENERS) or any(w in BACK_REFERENCES for w in words)

    def _rank(self, reading: Reading, features: dict[str, float] | None = None) -> list[Any]:
        """Matched topics, best first, leaving out those written for another subtype than the person's."""
        return [c for c in self._rank_all(reading, features) if self.k.topics[c.topic].applies_to(self.s.slots)]

    def _rank_all(self, reading: Reading, features: dict[str, float] | None = None) -> list[Any]:
        features = features if features is not None else reading.features()
        ranked = self.k.index.rank(features)
        last = self.s.last_topic
        if last in self.k.index.context and self._is_follow_up(reading, features):
            with_context = dict(features)
            for feature, weight in self.k.index.context[last].items():
                with_context[feature] = max(with_context.get(feature, 0.0), weight * CONTEXT_WEIGHT)
            contextual = self.k.index.rank(with_context, 4)
            own = {f for f in features if self.k.index.known(f) and not f.startswith("slot:")}
            if own and own.isdisjoint(self.k.index.context[last]):
                # "and the side effects?" after a treatment answer asks about something the
                # last topic does not cover: a related topic, not the same answer again.
                contextual = [c for c in contextual if c.topic != last]
            # "what about X?" leans on the last answer even when X alone matches elsewhere
            opener = any(reading.words[: len(o)] == o for o in FOLLOW_UP_OPENERS)
            if contextual and (
                not ranked or contextual[0].score > ranked[0].score or (opener and contextual[0].score >= CLARIFY_SCORE)
            ):
                return contextual
        return ranked

    def _is_follow_up(self, reading: Reading, features: dict[str, float]) -> bool:
        """A short message that leans on the previous answer ("and the side effects?")."""
        if not any(self.k.index.known(f) for f in features):
            return False  # nothing in it is about our subject: "what's the weather?"
        words = reading.words
        if any(words[: len(o)] == o for o in FOLLOW_UP_OPENERS):
            return True
        unknown = any(not self.k.index.known(f) for f in features)
        own = sum(1 for c in reading.concepts if c.kind != "slot") + len(reading.loose)
        return own <= 2 and not unknown

    def decide(self, ranked: list[Any], safety: SafetyCheck, aspect: str | None = None, probability: float = 0.0,
               entity: str | None = None, reading: Reading | None = None, guesses: tuple[Any, ...] = ()) -> None:
        """Answer the best topic, or ask which one was meant only when the candidates truly compete.

        Candidates that answer the aspect the question asks (side effects, how it is given...)
        win over those that do not: when exactly one close candidate does, it is answered. When
        the aspect is ``sure`` and the confident match declares other aspects, a candidate that
        declares it is answered instead ("hormone positive, what do people get first?" matches
        the stage 4 topic's words, but asks for the first treatment).
        """
        top = ranked[0] if ranked else None
        match = confident(ranked)
        declared = self.k.topics[match.topic].aspects if match is not None else ()
        elsewhere = bool(aspect) and bool(declared) and aspect not in declared  # the match declares other aspects
        # (not when the message names a drug: "not eligible for Piqray, why?" is not the subtype's drug choice)
        named_drug = entity is not None and entity.split(":", 1)[0] in ENTITY_KINDS
        written_for = self._written_for(aspect) if aspect and probability >= UNSURE_ASPECT and not named_drug else None
        if written_for is not None and (match is None or elsewhere):
            # "what comes after that?" for someone known to be HR+/HER2-: the later-lines topic for that subtype
            self.answer_topic(written_for, advice=safety.about)
            return
        choices = self._subtype_choices(aspect, named_drug, reading)
        if choices and (match.topic if match is not None else top.topic if top is not None else None) in choices:
            # "3L options?", "what comes after the first treatment?" with no subtype known: each subtype has its
            # own card, and serving one would answer for a subtype nobody stated
            self.s.pending = {"kind": "choose", "candidates": list(choices)}
            self.unanswered = "clarify"
            buttons = tuple(Button(_short(self.k.topics[t].title), f"t:{t}") for t in choices)
            self.say("clarify_subtype", ReplyKind.CLARIFY, buttons + (Button("Something else", "m:"),))
            return
        if match is not None:
            best = match.topic
            if probability >= SURE_ASPECT and elsewhere:
                # a sure aspect: the best candidate that answers it, even a little behind the match
                asked = [c.topic for c in ranked if c.score >= CLARIFY_SCORE and top.score - c.score < CLOSE_MARGIN * 3
                         and aspect in self.k.topics[c.topic].aspects and self._servable(self.k.topics[c.topic])]
                best = asked[0] if asked else best
            self.answer_topic(best, advice=safety.about)
            return
        if top and top.score >= CLARIFY_SCORE:
            close = [c for c in ranked if c.score >= CLARIFY_SCORE and top.score - c.score < CLOSE_MARGIN * 2]
            close = [c for c in close if self._servable(self.k.topics[c.topic])]
            if aspect is not None and close and all(self.k.topics[c.topic].aspects for c in close):
                # only among candidates that all say what they answer: one that says nothing may be the one
                asked = [c for c in close if aspect in self.k.topics[c.topic].aspects]
                if len(asked) == 1:
                    self.answer_topic(asked[0].topic, advice=safety.about)
                    return
            if close and safety.about:
                # "what are the signs of spinal cord compression?": the advice now, the topics as buttons
                buttons = tuple(Button(_short(self.k.topics[c.topic].title), f"t:{c.topic}") for c in close)
                self._advice_only(safety, buttons)
                return
            if len(close) >= 2 and close[0].score >= LEAD_SCORE and close[0].score - close[1].score >= LEAD_MARGIN:
                # one candidate leads: answer it; the others stay a button away (its related topics)
                self.answer_topic(close[0].topic, advice=safety.about)
                return
            # (with no close candidate left, the content match is asked once, below)
            by_content = self._by_content(reading) if reading is not None and close else None
            if by_content is not None and (by_content in [c.topic for c in close] or close[0].score < LEAD_SCORE):
                # the words of the answer itself pick one: "my friends have gone quiet since they found out"
                self.answer_topic(by_content, advice=safety.about)
                return
            asked_by = answering_likeliest(self.k, [c.topic for c in close], guesses)
            if len(close) >= 2 and asked_by is not None:
                # one candidate answers what the question most likely asks: it is answered, and the others are
                # the first buttons after it, one tap away, rather than a menu before any answer
                self.answer_topic(asked_by, advice=safety.about, also=tuple(c.topic for c in close if c.topic != asked_by))
                return
            if (len(close) >= 2 and self.s.last_topic is None
                    and not (reading is not None and _names_several(reading))):
                # a first question that two cards match about as well: the better one is answered and the others
                # are its first buttons, one tap away, rather than a menu before any answer (within a conversation,
                # where the last answer may have meant either, or when the message names two drugs, each with
                # its own card, the choice is still asked); at any score the matcher accepts: a menu before any
                # answer cost more questions than it saved on every question set
                self.answer_topic(close[0].topic, advice=safety.about, also=tuple(c.topic for c in close[1:]))
                return
            if len(close) >= 2:
                self.s.pending = {"kind": "choose", "candidates": [c.topic for c in close]}
                self.unanswered = "clarify"
                buttons = tuple(Button(_short(self.k.topics[c.topic].title), f"t:{c.topic}") for c in close)
                self.say("clarify_topic", ReplyKind.CLARIFY, buttons + (Button("Something else", "m:"),))
                return
            if close and close[0].score >= SOLE_SCORE:
                # one candidate, fairly matched, none near it: answered, with its related topics as buttons
                self.answer_topic(close[0].topic, advice=safety.about)
                return
            if close:
                title = self.k.topics[close[0].topic].title
                buttons = (Button(_short(title), f"t:{close[0].topic}"), Button("Something else", "m:"))
                self.unanswered = "clarify"
                self.say("confirm_topic", ReplyKind.CLARIFY, buttons, title=title)
                return
        by_content = self._by_content(reading) if reading is not None else None
        if by_content is not None:
            self.answer_topic(by_content, advice=safety.about)
            return
        if safety.about:
            self._advice_only(safety)
            return
        self.unanswered = "fallback"
        self.say("fallback", buttons=self._family_buttons())

    def _checked_by_content(self, decision: Decision, reading: Reading) -> Decision:
        """Another card of the same entity when the message uses its words and barely the chosen card's.

        The classifier reads the shape of a question; a card's own text knows its subject. "is it normal
        to ache all over on letrozole? my joints are killing me" is shaped like "is it for me" but uses
        the side-effect card's words. Only an unsure aspect is checked, and only among the entity's own
        cards: a regimen card (a line's) was chosen for the question's shape ("progressed on THP, next line?").
        """
        if len(decision.units) != 1 or decision.entity is None or decision.carried or decision.probability >= CONTENT_CHECK_BELOW:
            return decision
        chosen = decision.units[0]
        own = self.k.entity_units.get(decision.entity, ())
        if chosen not in own or LINE_ASPECTS.intersection((decision.aspect, *self.k.topics[chosen].aspects)):
            return decision
        siblings = [u for u in own if u != chosen and not LINE_ASPECTS.intersection(self.k.topics[u].aspects)
                    and self._servable(self.k.topics[u]) and self.k.topics[u].applies_to(self.s.slots)]
        if not siblings:
            return decision
        scores = self.k.content.scores(frozenset(reading.terms()), [chosen, *siblings])
        best = max(siblings, key=lambda u: scores[u])
        if scores[best] < CONTENT_SWITCH_MIN or scores[best] < CONTENT_SWITCH * scores[chosen]:
            return decision
        aspects = self.k.topics[best].aspects
        return replace(decision, units=(best,), aspect=aspects[0] if aspects else decision.aspect)

    def _by_content(self, reading: Reading) -> str | None:
        """The topic whose own text clearly best matches the message, if one leads (see ContentIndex)."""
        ranked = [c for c in self.k.content.rank(frozenset(reading.terms()), 6)
                  if self._servable(self.k.topics[c.topic]) and self.k.topics[c.topic].applies_to(self.s.slots)]
        if not ranked or ranked[0].score < CONTENT_SCORE:
            return None
        if len(ranked) > 1 and ranked[0].score < CONTENT_LEAD * ranked[1].score:
            return None
        return ranked[0].topic

    def _advice_only(self, safety: SafetyCheck, buttons: tuple[Button, ...] = ()) -> None:
        ctx = self.context()
        for flag in safety.about[:1]:
            self.replies.append(
                Reply(ReplyKind.ANSWER, flag.advice.render(self.audience, ctx), buttons[:6], sources=flag.sources)
            )

    # --- answers -----------------------------------------------------------------------
    def _servable(self, topic: Topic) -> bool:
        return self.audience == "clinician" or topic.review.approved or self.e.options.preview

    def _assumed_line(self, slot_id: str, entry: tuple[tuple[tuple[str, str], ...], str, str]) -> str:
        """The line saying which value an answer assumed, from which stated facts, with its source."""
        slot, (when, value, source) = self.k.slots[slot_id], entry
        given = " and ".join(re.sub(r"\s*\(.*\)", "", self.k.slots[k].label_of(x)) for k, x in when)
        return self.render("assumed_fact", fact=slot.label, value=slot.label_of(value), given=given, cite=f"[[{source}]]")

    def answer_topic(self, topic_id: str, ask_missing: bool = True, advice: tuple[Any, ...] = (),
                     also: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> None:
        """Answer a topic; ``also`` are close alternatives, offered first among its buttons; ``extra`` are
        values computed for its template (the figures a message asks to convert)."""
        topic = self.k.topics[topic_id]
        if not self._servable(topic):
            self.say("not_approved", buttons=self._family_buttons())
            return
        offered: tuple[Button, ...] = ()
        assumed: dict[str, Any] = {}  # slot -> the `usually` entry answered for (at most one)
        if ask_missing:
            asked, assumed = self._slot_plan(topic)
            if asked is not None:
                flow = self._flow_for(asked)
                self._ask(topic, flow.id, flow.start)
                return
            missing = next((slot for slot in (*assumed, *topic.needs) if slot not in self.s.slots), None)
            if missing is not None:
                offered = self._offer(topic, self._flow_for(missing))
        audience = self.audience
        ctx = {**self.context(), **(extra or {})}
        parts = []
        if not topic.review.approved:
            parts.append(self.render("unapproved_banner", status=topic.review.status.replace("_", " ")))
        if assumed:
            ctx.update({slot: entry[1] for slot, entry in assumed.items()})
        body = topic.answer.render(audience, ctx)
        if topic.regulatory:
            entries = "; ".join(self.render("regulatory_entry", **r.described(audience)) for r in topic.regulatory)
            body += "\n\n" + self.render("regulatory_line", entries=entries)
        if assumed:
            # the assumption is a claim too: it cites its own source, and the answer keeps all of its own
            slot, entry = next(iter(assumed.items()))
            text, sources = cite(self._assumed_line(slot, entry) + "\n\n" + body, (*topic.sources, self.k.sources[entry[2]]))
            if not CITATION.search(body):
                sources += [s for s in topic.sources if s not in sources]
        else:
            text, sources = cite(body, topic.sources)
        parts.append(text)
        for flag in advice:
            parts.append(flag.advice.render(audience, ctx))
            sources += [s for s in flag.sources if s not in sources]
        if audience == "patient":
            parts.append(self.render("patient_nudge"))
        review = topic.review
        note = self.render(
            "reviewed_line",
            reviewed_on=review.reviewed_on.isoformat(),
            status=review.status.replace("_", " "),
            reviewed_by=review.reviewed_by,
        )
        others = tuple(dict.fromkeys(r for r in (*also, *topic.related) if r != topic.id))
        buttons = offered + tuple(
            Button(_short(self.k.topics[r].title), f"t:{r}") for r in others if self._servable(self.k.topics[r])
        )
        self.replies.append(
            Reply(
                ReplyKind.ANSWER, "\n\n".join(p for p in parts if p), buttons[:6], tuple(sources), topic.id,
                review.reviewed_on, review.status, note,
            )
        )
        self.s.last_topic = topic.id
        self.s.last_aspect = topic.aspects[0] if topic.aspects else None
        if self.s.last_entity not in topic.entities:
            self.s.last_entity = topic.entities[0] if len(topic.entities) == 1 else None


def answering_likeliest(knowledge: Knowledge, candidates: list[str], guesses: tuple[Any, ...]) -> str | None:
    """Of close candidate topics, the one whose aspects the classifier finds likeliest, when it stands clearly
    above the others: a menu is for candidates that answer equally likely questions."""
    likely = {g.aspect: g.probability for g in guesses}
    scored = sorted(((max((likely.get(a, 0.0) for a in knowledge.topics[t].aspects), default=0.0), n, t)
                     for n, t in enumerate(candidates)), key=lambda x: (-x[0], x[1]))
    if len(scored) < 2 or scored[0][0] < ASKED_BY_MIN or scored[0][0] - scored[1][0] < ASKED_BY_MARGIN:
        return None
    return scored[0][2]


#: The general answer (slot unknown) stands when at least this share of it is what every value's answer says.
SHARED_SHARE = 0.6


def _mostly_shared(general: str, texts: list[str]) -> bool:
    """Whether the general rendering is mostly lines every value's rendering has too."""
    lines = [line for line in general.splitlines() if line.strip()]
    if not lines:
        return False
    common = set.intersection(*({line for line in t.splitlines() if line.strip()} for t in texts))
    shared = sum(len(line) for line in lines if line in common)
    return shared >= SHARED_SHARE * sum(len(line) for line in lines)


def _courteous(phrases: Any, words: tuple[str, ...]) -> bool:
    """A thanks or greeting followed only by courtesy words ("thank you, this helped", "hi there, good morning")."""
    for n in range(len(words), 0, -1):
        if phrases.match(words[:n]):
            return bool(words[n:]) and all(w in COURTESY_WORDS or phrases.match((w,)) for w in words[n:])
    return False


def confident(ranked: list[Any]) -> Any | None:
    """The top candidate when it is a clear answer: over the answer score and ahead of the next one."""
    if not ranked or ranked[0].score < ANSWER_SCORE:
        return None
    if len(ranked) > 1 and ranked[0].score - ranked[1].score < CLOSE_MARGIN:
        return None
    return ranked[0]


def cite(text: str, listed: tuple[Source, ...]) -> tuple[str, list[Source]]:
    """Number the ``[[source_id]]`` markers of a rendered answer and keep only the sources it cites.

    An answer without markers cites every source of its topic.
    """
    by_id = {s.id: s for s in listed}
    order: list[Source] = []
    numbers: dict[str, str] = {}  # source id -> "[n]", in order of first citation

    def number(match: re.Match[str]) -> str:
        sid = match.group(1)
        label = numbers.get(sid)
        if label is None:
            order.append(by_id[sid])
            label = numbers[sid] = f"[{len(order)}]"
        return label

    numbered = CITATION.sub(number, text)
    return (numbered, order) if order else (text, list(listed))


def _short(label: str, limit: int = 60) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _drugs_named(reading: Reading) -> set[str]:
    return {c.id for c in reading.concepts if c.kind == "drug"}


def _names_several(reading: Reading) -> bool:
    """Whether a message names two or more drugs ("side effects of letrozole and ibrance"); classes are more often
    history ("taxane- and anthracycline-naive TNBC: chemo choice?")."""
    return len(_drugs_named(reading)) >= 2
