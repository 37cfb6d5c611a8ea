"""run_adapter: the steps both adapters' main() take around serving, in order, and the clean-up."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from bots.common import lifecycle
from bots.common.delivery import Delivery
from bots.common.lifecycle import Running, run_adapter
from dialogue.config import Settings
from dialogue.errors import ConfigError
from dialogue.storage import MemoryStore


class Recorder:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[str] = []
        self.store = MemoryStore()
        original_close = self.store.close

        def close() -> None:
            self.steps.append(f"close (delivery running: {delivery_running()})")
            original_close()

        self.store.close = close  # type: ignore[method-assign]
        self.session = SimpleNamespace(store=self.store)
        monkeypatch.setattr(lifecycle, "build_session", self.build_session)
        monkeypatch.setattr(lifecycle, "install_reload_signal", self.install_reload_signal)

    def build_session(self, settings: Settings) -> Any:
        self.steps.append("session")
        return self.session

    def install_reload_signal(self, session: Any, knowledge: Any) -> bool:
        assert session is self.session
        self.steps.append("reload signal")
        return True

    def step(self, name: str, result: Any = None) -> Any:
        def record(*args: Any) -> Any:
            self.steps.append(name)
            return result
        return record


def delivery_running() -> bool:
    return any(t.name == "mbcbot-test-delivery" for t in threading.enumerate())


def test_the_steps_run_in_order_and_the_delivery_stops_before_the_store_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch)
    served: list[Any] = []

    def serve(checked: str, running: Running) -> None:
        assert running.session is recorder.session
        running.deliver(Delivery(running.session.store, "test", 60.0, lease_s=1.0))
        served.append((checked, delivery_running()))

    status = run_adapter(Settings(), quiet_logs=recorder.step("quiet logs"),
                         preflight=recorder.step("preflight", "a checked client"), serve=serve)
    assert status == 0
    assert served == [("a checked client", True)]
    assert recorder.steps == ["quiet logs", "preflight", "session", "reload signal", "close (delivery running: False)"]


def test_a_failed_preflight_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch)

    def refused() -> None:
        raise ConfigError("TOKEN was not accepted")

    with pytest.raises(ConfigError):
        run_adapter(Settings(), quiet_logs=recorder.step("quiet logs"), preflight=refused, serve=recorder.step("serve"))
    assert recorder.steps == ["quiet logs"]


def test_a_failure_while_serving_still_stops_the_delivery_and_closes_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch)

    def serve(checked: None, running: Running) -> None:
        running.deliver(Delivery(running.session.store, "test", 60.0, lease_s=1.0))
        raise ConfigError("cannot open the connection")

    with pytest.raises(ConfigError):
        run_adapter(Settings(), quiet_logs=lambda: None, preflight=lambda: None, serve=serve)
    assert recorder.steps[-1] == "close (delivery running: False)"


def test_a_delivery_started_later_by_the_adapter_is_not_started_early() -> None:
    running = Running(SimpleNamespace(store=MemoryStore()))  # type: ignore[arg-type]
    delivery = running.deliver(Delivery(running.session.store, "test", 60.0, lease_s=1.0), start=False)
    assert not delivery_running() and running.deliveries == [delivery]
