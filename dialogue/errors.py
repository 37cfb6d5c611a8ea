"""Errors raised by the engine.

Hierarchy::

    DialogueError
    ├── KnowledgeError   the knowledge directory is broken (every problem, each as ``file:line: what``)
    ├── ConfigError      a configuration file or environment variable is invalid
    └── StoreError       the conversation store cannot be reached or written

"No match" is never an exception: it is an ordinary fallback reply.
"""

from __future__ import annotations

from dataclasses import dataclass


class DialogueError(Exception):
    """Base class of every error the engine raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the knowledge, located in its file."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" stops the bot; "warning" is reported by validate only

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class KnowledgeError(DialogueError):
    """The knowledge failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:50])
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} knowledge error(s):\n{shown}{more}")


class ConfigError(DialogueError):
    """A setting is missing or invalid; the message names it."""


class StoreError(DialogueError):
    """The conversation store failed; the turn was not saved."""
