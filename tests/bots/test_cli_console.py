"""``mbcbot chat`` as a person at a terminal uses it: odd input, audiences, reloads while the prompt waits."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_cli import ROOT, mbcbot

CLINICIAN_NOTE = "guideline-level information on stage 4"
PATIENT_NOTE = "I am an information bot, not a doctor"


def test_a_digit_of_another_script_while_options_are_shown_is_not_a_choice_and_the_chat_goes_on(tmp_path: Path) -> None:
    script = "first line treatment options\n\u1369\n\u0663\nwhat is letrozole\n"  # Ethiopic one, Arabic-Indic three
    out = mbcbot("chat", "--store", "memory", stdin=script, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and out.stderr == ""
    assert "Triple negative" in out.stdout and "HR+ / HER2+" in out.stdout
    assert "first line, hr-positive" not in out.stdout.lower()  # "\u0663" did not press option 3
    assert "aromatase" in out.stdout.lower()  # the question after them is answered


def test_each_audience_has_its_own_console_conversation(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/c.db"
    clinician = mbcbot("chat", "--store", store, stdin="1L options for ER+ HER2- postmenopausal\n", cwd=tmp_path)
    assert CLINICIAN_NOTE in clinician.stdout and "first line, hr-positive" in clinician.stdout.lower()

    patient = mbcbot("chat", "--store", store, "--audience", "patient", stdin="actually it's HER2 positive\n", cwd=tmp_path)
    assert patient.returncode == 0, patient.stderr
    assert PATIENT_NOTE in patient.stdout  # a first contact for the patient voice: its own disclaimer
    assert "her2-positive" not in patient.stdout.lower()  # nothing of the clinician's question carried over

    again = mbcbot("chat", "--store", store, stdin="actually it's HER2 positive\n", cwd=tmp_path)
    assert "first line, her2-positive" in again.stdout.lower()  # the clinician conversation resumes
    assert CLINICIAN_NOTE not in again.stdout  # and its disclaimer was shown already


class Terminal:
    """``mbcbot chat`` on a pseudo-terminal, as a person sees it (stdout and stderr on one screen)."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen([sys.executable, "-m", "bots", "chat", *args], stdin=child, stdout=child,
                                        stderr=child, env=env, cwd=ROOT, close_fds=True)
        os.close(child)
        self.screen = ""

    def until(self, needle: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.screen:
            assert time.monotonic() < deadline, f"{needle!r} not seen; screen: {self.screen[-600:]!r}"
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.fd, 65536).decode(errors="replace").replace("\r\n", "\n")
                except OSError:  # the child closed the terminal
                    break
        return self.screen

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        os.close(self.fd)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_reload_messages_never_land_inside_the_prompt_line(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / ".state")}
    env.pop("MBCBOT_CONFIG", None)
    terminal = Terminal("--store", "memory", "--knowledge", str(extra), env=env)
    try:
        terminal.until("you> ")
        (extra / "bad.yaml").write_text("topics:\n  - id: x1\n    title: t\n    family: nope\n")
        terminal.process.send_signal(signal.SIGHUP)
        terminal.until("still using the previous knowledge")
        (extra / "bad.yaml").unlink()
        terminal.process.send_signal(signal.SIGHUP)
        screen = terminal.until("knowledge reloaded")
        screen = terminal.until("knowledge reloaded\nyou> ")  # the prompt is shown again below the notice
        lines = screen.splitlines()
        assert all(line == "you> " or not line.startswith("you> ") for line in lines), lines  # nothing after a prompt
        assert any("bad.yaml:4: unknown family 'nope'" in line for line in lines)  # the logged problem, on its own line
        terminal.type("/quit\n")
        assert terminal.process.wait(30) == 0
    finally:
        terminal.close()
