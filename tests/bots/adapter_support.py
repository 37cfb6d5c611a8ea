"""What the Slack and Telegram test suites share: a recording session, a long-answer topic, the scripts both adapters
replay, and a log capture that sees every record of every logger."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dialogue.convtest import Script, load_scripts
from dialogue.replies import Incoming, Reply
from dialogue.session import Session

CONVERSATIONS = Path(__file__).resolve().parents[1] / "conversations"
#: Red flags, refusals and the consent step, and the treatment scripts (button presses, long answers).
ADAPTER_SCRIPT_FILES = ("safety.yaml", "refusals_and_scope.yaml", "topics_treatment.yaml")


def adapter_scripts() -> list[Script]:
    """The conversation scripts every adapter replays through its platform."""
    return load_scripts([CONVERSATIONS / name for name in ADAPTER_SCRIPT_FILES])


def script_id(script: Script) -> str:
    return f"{Path(script.file).stem}:{script.name}"


class RecordingSession(Session):
    """A session that keeps the replies of every turn (the engine's side of the comparison)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turns: list[list[Reply]] = []

    def handle(self, conversation_id: str, incoming: Incoming, **context: Any) -> list[Reply]:
        replies = super().handle(conversation_id, incoming, **context)
        self.turns.append(replies)
        return replies


def long_topic_yaml(answer: str, audience: str) -> str:
    """A knowledge overlay with one approved topic whose ``audience`` answer is ``answer``.

    Asked with "zebrafish handbook"; the other voice answers "Short.".
    """
    voices = {"clinician": "Short.", "patient": "Short.", audience: answer}
    return f"""
sources:
  - id: zz_handbook
    title: "Handbook <draft> & notes"
    publisher: "Test & Co"
    year: 2025
    url: "https://example.org/handbook?part=1&lang=en"
    kind: guideline
topics:
  - id: zz_long_handbook
    title: "The zebrafish handbook"
    family: support
    examples: [zebrafish handbook, show me the zebrafish handbook, the long zebrafish guide,
               zebrafish handbook please, what does the zebrafish handbook say]
    related: [fx_cdk_side_effects]
    sources: [zz_handbook]
    review: {{status: approved, reviewed_on: 2026-01-15, reviewed_by: "test reviewer"}}
    answer:
      clinician: {json.dumps(voices["clinician"])}
      patient: {json.dumps(voices["patient"])}
"""


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def every_log_record() -> Iterator[list[logging.LogRecord]]:
    """The root logger at DEBUG (as ``MBCBOT_LOG_LEVEL=DEBUG`` sets it) and a handler keeping every
    record that reaches it, from any logger, at any level. Enter it before building the adapter,
    as the command does: the adapter sets its libraries' levels when it is built."""
    root, keep = logging.getLogger(), _Keep()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(keep)
    try:
        yield keep.records
    finally:
        root.removeHandler(keep)
        root.setLevel(level)


def record_text(record: logging.LogRecord) -> str:
    """Everything a log line could show: the formatted message, the raw arguments, any traceback."""
    parts = [record.getMessage(), repr(record.msg), repr(record.args)]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def leaked(records: Iterable[logging.LogRecord], private: Iterable[str]) -> list[str]:
    """``logger: what`` for each private string some record shows."""
    private = [p for p in private if p]
    return [f"{r.name} {r.levelname}: {p!r}" for r in records for p in private if p in record_text(r)]
