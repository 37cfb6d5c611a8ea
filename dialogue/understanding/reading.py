"""Read a message once: clean text, tokens with clauses and negation, numbers with units.

Every later stage (safety, routing, the unanswered record) looks at the same
:class:`MessageReading`, so the text is sanitised, folded and tokenised in one place.

Two scopes matter for meaning:

* a **clause** ends at punctuation or at a joining word ("but", "and", "although"...).
  Negation stops there: in "no appetite, and a fever since last night" the fever is
  reported; in "no fever, just tired" it is not.
* a **sentence** ends at ``. ! ? ;`` or a new line. Words that must occur together
  ("legs" + "numb") are looked for within a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from functools import lru_cache

from ..text import fold, folded_tokens, sanitize, stem

_stem = lru_cache(maxsize=65536)(stem)  # words repeat: stem each once

# words, numbers (with a decimal point or comma), degree signs, and the punctuation that ends
# a clause; "x8" and "8x" are split into a count marker and a number
_LEX = re.compile(
    r"(?P<word>[a-z]+(?:[0-9][a-z0-9]*(?:/[0-9][a-z0-9]*)?|/[a-z]+(?:[0-9][a-z0-9]*)?)?)"
    r"|(?P<num>\d+(?:[.,]\d+)?)"
    r"|(?P<deg>[°º])"
    r"|(?P<pct>%)"
    r"|(?P<hash>#)"
    r"|(?P<stop>(?:[.!;]|\?(?![a-z]))+|\n)"  # "?ILD" (query ILD, clinicians' shorthand) ends nothing
    r"|(?P<pause>[,:()\[\]—–]|\s-\s)"
)

#: Words that end a negation's reach and start a new clause.
CLAUSE_WORDS = frozenset(
    "but and although though however whereas yet except apart now then because cos coz plus also since".split()
)
#: Words that negate what follows in their clause.
NEGATION_CUES = frozenset(
    "no not never without nor neither none dont didnt doesnt havent hasnt hadnt isnt wasnt arent werent wont"
    " cant cannot couldnt denies denied deny negative".split()
)
#: Cue phrases that negate nothing ("no longer able", "not only", "never been so").
#: "Hasn't stopped", "can't stop", "not settled": the cue says it goes on.
_GOES_ON = {"stop", "stopped", "stopping", "stops", "settled", "eased", "let"}
_NOT_NEGATING_NEXT = {"no": {"longer", "matter", "idea", "clue", "way", "doubt"},
                      "not": {"only", "just", "sure"} | _GOES_ON,
                      "never": {"so", "this", "such", "worse", "as", "stops", "stop", "ending"},
                      "dont": {"know"}, "cant": {"stop", "keep"}, "cannot": {"stop", "keep"}, "couldnt": {"stop"},
                      "wont": {"stop", "go"}, "didnt": {"stop"}, "doesnt": {"stop"},
                      "havent": _GOES_ON, "hasnt": _GOES_ON, "hadnt": _GOES_ON}
NEGATION_REACH = 6  # tokens after "no", "not", "without", "denies" that they can negate
SHORT_NEGATION_REACH = 4  # "can't", "don't", "isn't" negate a shorter stretch: "can't swallow after my docetaxel"
_WIDE_CUES = frozenset("no not never without nor neither none denies denied deny negative".split())

# spelled-out numbers people type ("six times", "thirty eight point five")
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen".split())}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_EXTRA = {"once": 1, "twice": 2, "thrice": 3, "a dozen": 12, "dozen": 12, "hundred": 100}
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_EXTRA)


class Token(NamedTuple):
    """One word or number of a message (a named tuple: a long message has thousands)."""

    text: str  # as folded ("shivering", "38.4")
    stem: str  # "shiver"; numbers keep their text
    kind: str  # "w" word, "n" number, "u" unit sign (° %)
    clause: int
    sentence: int
    neg_by: int = -1  # index of the negation cue earlier in its clause that reaches it, or -1
    pos: int = 0  # character offset in the folded text

    @property
    def negated(self) -> bool:
        return self.neg_by >= 0


class Number(NamedTuple):
    """A number in the message and the words around it (a named tuple: a long message can have thousands)."""

    value: float
    index: int  # token index
    unit: str  # "c", "f", "mmol", "mgdl", "percent", "count", "" (none stated)
    written_as_word: bool = False


@dataclass(slots=True)
class MessageReading:
    """Everything the engine needs to know about one message, computed once."""

    raw: str
    clean: str  # sanitised (safe to store and render)
    body: str  # the part that was read (a very long message is scanned up to a limit)
    folded: str  # lower-case, apostrophes removed, receptor shorthand spelled out
    tokens: tuple[Token, ...]  # words, numbers and unit signs, with clause and negation
    numbers: tuple[Number, ...]
    question: bool  # ends with "?" or opens like a question
    _words: tuple[str, ...] | None = None

    @property
    def words(self) -> tuple[str, ...]:
        """The stemmed word tokens the topic matcher reads (only routed messages need them)."""
        if self._words is None:
            self._words = tuple(folded_tokens(_ROUTE_SPEAK.sub(lambda m: _ROUTE_WORDS[m.group(1)], fold(self.body))))
        return self._words


_QUESTION_OPENERS = frozenset(
    "what whats which who why how when where is are am does do did can could should would will may shall".split()
)


#: Text-speak and shorthand people type, spelled out before anything else reads the words.
TEXT_SPEAK = {
    "2day": "today", "2moro": "tomorrow", "2morrow": "tomorrow", "tmrw": "tomorrow", "tmr": "tomorrow", "rly": "really",
    "v": "very", "abt": "about", "b4": "before", "nite": "night", "cnt": "cant", "brth": "breathe", "evry": "every",
    "alot": "a lot", "dbl": "double", "wk": "week", "wks": "weeks", "pls": "please", "ppl": "people", "bc": "because",
    "coz": "because", "nxt": "next", "wat": "what", "🤒": " fever ", "🌡️": " temperature ", "🌡": " temperature ", "cuz": "because", "w/": "with", "w/o": "without", "thru": "through", "tho": "though",
    "numbr": "number", "nmbr": "number", "wot": "what", "wots": "whats", "wats": "whats", "watz": "whats",
}
_SPEAK = re.compile(r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(TEXT_SPEAK, key=len, reverse=True)) + r")(?![\w/])")
#: Spelled out for the topic matcher too, except where the shorthand is the domain's own ("bc" is breast cancer),
#: with the clinicians' "tx" for treatment ("pt wants to stop all active tx") and "ur" ("lose ur hair").
#: ("u", "r" and "diff" only here: "10 u of insulin", "R calf", "c diff" keep their meaning for the safety check.)
_ROUTE_WORDS = {k: v for k, v in TEXT_SPEAK.items() if k not in ("bc", "v")} | {
    "tx": "treatment", "txs": "treatments", "ur": "your", "u": "you", "r": "are", "diff": "difference"}
_ROUTE_SPEAK = re.compile(r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(_ROUTE_WORDS, key=len, reverse=True)) + r")(?![\w/])")
_TO = re.compile(r" 2 (?<=[a-z] 2 )(?=[a-z])")  # "want 2 wake up" (a literal first: a fast scan)


def read_message(text: str, scan_limit: int | None = None) -> MessageReading:
    """Read ``text`` (up to ``scan_limit`` characters of it) into a :class:`MessageReading`."""
    clean = sanitize(text if isinstance(text, str) else str(text))
    body = clean if scan_limit is None else clean[:scan_limit]
    folded = _TUMOUR_MARKER.sub(lambda m: "ca" + re.sub(r"\W", "", m.group(1)), fold(body))
    if "/" in folded:
        folded = _PER_DAY.sub(r"\1 times a day", folded)
    folded = _TO.sub(" to ", _SPEAK.sub(lambda m: TEXT_SPEAK[m.group(1)], folded))
    toks, numbers = _tokenise(folded)
    first = next((t.text for t in toks if t.kind == "w"), "")
    question = folded.rstrip().endswith("?") or first in _QUESTION_OPENERS
    return MessageReading(text, clean, body, folded, tuple(toks), tuple(numbers), question)


def _tokenise(folded: str) -> tuple[list[Token], list[Number]]:
    # first the pieces: ("w" word | "n" number | "u" unit sign | "s" sentence end | "b" clause break, text, offset)
    raw: list[tuple[str, str, int]] = []
    piece = raw.append
    for m in _LEX.finditer(folded):
        kind = m.lastgroup
        if kind == "word":
            value = m.group()
            if value[0] == "x" and value[1:].isdigit():  # "x8": a count marker and its number
                at = m.start()
                piece(("w", "x", at))
                piece(("n", value[1:], at + 1))
            elif "/" in value:
                at = m.start()
                if value in ("mg/dl", "mmol/l", "mmol/mol"):
                    piece(("w", value.replace("/", ""), at))
                else:
                    left, _, right = value.partition("/")
                    piece(("w", left, at))
                    piece(("w", right, at + len(left) + 1))
            else:
                piece(("w", value, m.start()))
        elif kind == "num":
            value = m.group()
            if "," in value:
                value = value.replace(",", ".") if _decimal_comma(value) else value.replace(",", "")
            piece(("n", value, m.start()))
        elif kind == "stop":
            piece(("s", "", 0))
        elif kind == "pause":
            piece(("b", "", 0))
        elif kind == "hash" and raw and raw[-1][0] == "n":
            continue  # "20Gy/5#": fractions, not a fracture
        else:
            piece(("u", _UNIT_SIGNS[kind], m.start()))
    # then the tokens, with their clause, sentence and the negation cue that reaches them (one tight loop:
    # a 20,000-character message has thousands)
    out: list[Token] = []
    append = out.append
    new, stem, clause_words, cues = _new_token, _stem, CLAUSE_WORDS, NEGATION_CUES
    clause = sentence = negate_left = 0
    cue_at = -1
    for kind, text, pos in raw:
        if kind == "w":
            if text in clause_words and out and out[-1][3] == clause:
                clause += 1
                negate_left = 0
            append(new(Token, (text, stem(text), "w", clause, sentence, cue_at if negate_left > 0 else -1, pos)))
        elif kind == "s":
            sentence += 1
            clause += 1
            negate_left = 0
            continue
        elif kind == "b":
            clause += 1
            negate_left = 0
            continue
        else:
            append(new(Token, (text, text, kind, clause, sentence, cue_at if negate_left > 0 else -1, pos)))
        if negate_left:
            negate_left -= 1
            cue = out[cue_at][0]
            if len(out) - 1 - cue_at <= (1 if cue == "not" else 2) and text in _NOT_NEGATING_NEXT.get(cue, ()):
                # "no longer", "not only", "never been so": the cue negates nothing after all
                # ("not suicidal just down" still negates: "not" reaches only the next word)
                negate_left = 0
                for j in range(cue_at + 1, len(out)):
                    out[j] = out[j]._replace(neg_by=-1)
        if kind == "w" and text in cues:
            negate_left = NEGATION_REACH if text in _WIDE_CUES else SHORT_NEGATION_REACH
            cue_at = len(out) - 1
    return out, _numbers(out, folded)


_new_token = tuple.__new__  # a Token without the named tuple's Python-level constructor (thousands per long message)


_UNIT_SIGNS = {"deg": "°", "pct": "%", "hash": "#"}


# "CA 15-3", "CA 27.29", "CA-125" are tumour markers, not calcium readings: one word each
_TUMOUR_MARKER = re.compile(r"ca(?<!\wca)[\s-]?(15[\s.-]?3|27[\s.-]?29|125|19[\s.-]?9)\b")  # literal first: fast
# "5/day", "8/24h": a count per day
_PER_DAY = re.compile(r"(\d+)\s*/\s*(?:day|d|24 ?h|24 ?hrs?|24 hours)\b")
_COUNT_GLUED = re.compile(r"^x(\d+)$")


def _decimal_comma(value: str) -> bool:
    """"38,4" is 38.4; "1,000" is a thousand."""
    head, _, tail = value.partition(",")
    return bool(tail) and len(tail) != 3


def _numbers(toks: list[Token], folded: str = "") -> list[Number]:
    out: list[Number] = []
    words = _NUMBER_WORDS
    i = 0
    # only numbers and number words can start one (a long message has thousands of other tokens)
    for at in [j for j, t in enumerate(toks) if t[2] == "n" or t[0] in words]:
        if at < i:
            continue  # part of a number written in words just read ("thirty eight")
        i = at
        t = toks[i]
        value: float | None = None
        word = False
        start = i
        if t.kind == "n":
            try:
                value = None if _trial_number(toks, i, folded) else float(t.text)
            except ValueError:
                value = None
            i += 1
        elif t.kind == "w" and t.text in _NUMBER_WORDS:
            value, used = _spelled(toks, i)
            if value is not None:
                word = True
                i += used
            else:
                i += 1
        else:
            i += 1
        if value is None:
            continue
        unit = _unit_after(toks, i, start)
        out.append(Number(value, start, unit, word))
    return out


#: Words that a hyphen can join to a reading ("temp-39", "sugar-25"): the number stays a reading.
_MEASURE_WORDS = frozenset({"temp", "temps", "temperature", "sugar", "sugars", "glucose", "calcium", "sats", "oxygen",
                            "pulse", "fever", "bgl", "reading", "level", "score"})


def _trial_number(toks: list[Token], i: int, folded: str) -> bool:
    """Whether the number at ``i`` is part of a name joined by a hyphen ("CAPItello-291", "KEYNOTE-355"),
    not a reading ("sugar 291")."""
    if i == 0 or not folded:
        return False
    pos, before = toks[i].pos, toks[i - 1]
    return (pos >= 2 and folded[pos - 1] == "-" and before.kind == "w" and len(before.text) >= 5
            and before.pos + len(before.text) == pos - 1 and before.text not in _MEASURE_WORDS)


def _spelled(toks: list[Token], i: int) -> tuple[float | None, int]:
    """A number written in words at token ``i``: ("thirty eight point five", 4 tokens) -> 38.5."""
    w = toks[i].text
    if w in _EXTRA:
        return float(_EXTRA[w]), 1
    total: float | None = None
    used = 0
    if w in _TENS:
        total = _TENS[w]
        used = 1
        if i + 1 < len(toks) and toks[i + 1].text in _UNITS and 0 < _UNITS[toks[i + 1].text] < 10:
            total += _UNITS[toks[i + 1].text]
            used = 2
    elif w in _UNITS:
        if w == "one":  # "one" is too often not a number ("one side", "the one")
            return None, 0
        total = _UNITS[w]
        used = 1
    if total is None:
        return None, 0
    j = i + used
    if j < len(toks) and toks[j].text == "hundred" and total < 10:  # "two hundred and eighty"
        total *= 100
        used += 1
        j += 1
        if j < len(toks) and toks[j].text == "and":
            j += 1
        rest, more = _spelled(toks, j) if j < len(toks) else (None, 0)
        if rest is not None and rest < 100:
            return total + rest, j + more - i
        return float(total), used
    if j + 1 < len(toks) and toks[j].text == "point" and toks[j + 1].text in _UNITS:
        return total + _UNITS[toks[j + 1].text] / 10, used + 2
    return float(total), used


_COUNT_WORDS = frozenset(
    "times time x episodes episode stools stool bms bm movements motions bouts goes trips lots loads".split()
)


#: Every word that can be a unit right after a number (the cases of :func:`_unit_after`).
_UNIT_WORDS = frozenset(
    "° c celsius centigrade degc f fahrenheit degf degrees degree deg mmhg bpm beats mmol mmoll mmols mgdl mg % percent"
    " pc per year years yr yrs yo y weeks week wks days day months month hours hour hrs minutes mins min am pm kg kgs"
    " lb lbs ml mcg units cycles cycle cm mm th st nd rd ng iu g l".split()
) | _COUNT_WORDS


def _unit_after(toks: list[Token], i: int, start: int) -> str:
    """The unit written right after (or, for "x8", right before) a number."""
    if start > 0 and toks[start - 1].text == "x" and toks[start - 1].clause == toks[start].clause:
        return "count"
    if i >= len(toks) or toks[i].clause != toks[start].clause:
        return ""  # "12.8, c/o thirst": a unit never comes after a comma
    nxt = toks[i].text
    after = toks[i + 1].text if i + 1 < len(toks) else ""
    if nxt not in _UNIT_WORDS and (after not in _COUNT_WORDS or toks[i].kind != "w"):
        return ""  # the common case, settled in one look-up
    if nxt == "x" and i + 1 < len(toks) and toks[i + 1].kind != "w":
        return ""  # "T 38.2 x2": the reading seen twice; the count is the number after "x"
    if nxt == "°":
        if after in ("c", "celsius", "centigrade"):
            return "c"
        if after in ("f", "fahrenheit"):
            return "f"
        return "deg"
    if nxt in ("c", "celsius", "centigrade", "degc"):
        return "c"
    if nxt in ("f", "fahrenheit", "degf"):
        return "f"
    if nxt in ("degrees", "degree", "deg"):
        if after in ("c", "celsius", "centigrade"):
            return "c"
        if after in ("f", "fahrenheit"):
            return "f"
        return "deg"
    if nxt == "mmhg":
        return "mmhg"
    if nxt in ("bpm", "beats"):
        return "bpm"
    if nxt in ("mmol", "mmoll", "mmols"):
        return "mmol"
    if nxt == "mgdl" or (nxt == "mg" and after == "dl"):
        return "mgdl"
    if nxt == "mg":
        return "mg"  # a dose ("40mg dex"), or a glucose reading typed without "/dL"
    if nxt in ("%", "percent", "pc", "per"):
        return "percent"
    if nxt in _COUNT_WORDS or (after in _COUNT_WORDS and after not in ("time", "lots", "loads") and toks[i].kind == "w"
                               and nxt not in ("days", "day", "weeks", "hours", "mg", "years", "months")):
        return "count"
    if nxt in ("year", "years", "yr", "yrs", "yo", "y", "weeks", "week", "wks", "days", "day", "months", "month",
               "hours", "hour", "hrs", "minutes", "mins", "min", "am", "pm", "kg", "kgs", "lb", "lbs",
               "ml", "mcg", "units", "cycles", "cycle", "cm", "mm", "th", "st", "nd", "rd", "ng", "iu", "g", "l"):
        return "other:" + nxt
    return ""
