"""What the Slack and Telegram test suites share: a recording session, a long-answer topic, and the scripts both adapters replay."""

from __future__ import annotations

import json
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

    def handle(self, conversation_id: str, incoming: Incoming) -> list[Reply]:
        replies = super().handle(conversation_id, incoming)
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
