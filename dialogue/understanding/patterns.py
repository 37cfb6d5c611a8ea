"""Refuse regular expressions that could take super-linear time on a long message.

Python's ``re`` backtracks. A pattern with a repeat inside a repeat (``(a+)+``,
``(\\s+\\S+){0,2}``) or a back-reference can take exponential time on a crafted
20,000-character message, and deployments add their own patterns. Such patterns are
refused when the knowledge is loaded; bounded repeats over single characters
(``.{0,40}``) and alternations of words are fine.
"""

from __future__ import annotations

import re

try:  # Python 3.11+
    import re._parser as _sre  # type: ignore[import-not-found]
    from re._constants import MAXREPEAT  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]
    from sre_constants import MAXREPEAT  # type: ignore[no-redef]

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
LONGEST_BOUNDED_REPEAT = 200


def unsafe_reason(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack catastrophically, or ``None`` if it cannot."""
    try:
        parsed = _sre.parse(pattern)
    except re.error as exc:
        return f"invalid pattern: {exc}"
    return _walk(list(parsed), inside_repeat=False)


def _walk(items: list, inside_repeat: bool) -> str | None:
    for op, arg in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "back-references can take exponential time"
        if name in _REPEATS:
            low, high, body = arg
            many = high == MAXREPEAT or high > 1
            if many and inside_repeat:
                return "a repeat inside a repeat (like (a+)+) can take exponential time; write the words out or use a concept"
            if high != MAXREPEAT and high > LONGEST_BOUNDED_REPEAT:
                return f"a bounded repeat longer than {LONGEST_BOUNDED_REPEAT} is too slow on long messages"
            found = _walk(list(body), inside_repeat or many)
            if found:
                return found
        elif name == "IN" and inside_repeat:
            continue
        elif name == "SUBPATTERN":
            found = _walk(list(arg[-1]), inside_repeat)
            if found:
                return found
        elif name == "BRANCH":
            if inside_repeat:
                return "alternatives inside a repeat (like (a|ab)+) can take exponential time"
            for branch in arg[1]:
                found = _walk(list(branch), inside_repeat)
                if found:
                    return found
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _walk(list(arg[1]), inside_repeat)
            if found:
                return found
    return None
