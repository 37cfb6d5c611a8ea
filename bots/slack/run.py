"""``mbcbot slack``: the environment, the servers (Socket Mode, or the Events API on waitress) and ``main()``.

The listeners themselves live in :mod:`bots.slack.app`; this module only reads the tokens,
checks them, and serves an app built there until the process is interrupted. What both
adapters do around serving (the session, SIGHUP, closing the store) is
:func:`bots.common.lifecycle.run_adapter`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from dialogue.config import Settings
from dialogue.errors import ConfigError

from ..common.env import optional_env, require_env
from ..common.lifecycle import Running, run_adapter
from .app import BOLT_LOG, WORKERS, build_app_and_bot, quiet_library_logs, web_client

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HTTP_THREADS = 8
#: Slack's requests are a few kilobytes: waitress refuses a larger body from its Content-Length,
#: before reading it (its default is 1 GB, which Bolt would read into memory before checking the signature).
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HttpLimits:
    """waitress's limits for ``mbcbot slack --http``, for an endpoint anyone may reach.

    Idle connections (opened, then silent) are closed after ``channel_timeout_s``, checked
    every ``cleanup_interval_s``; up to ``connection_limit`` may be open at once (polled,
    not select()ed, so more than 1,024 file descriptors work), so a few hundred idle
    sockets cannot keep Slack's own requests out. Whole seconds, as waitress takes them.
    """

    max_body_bytes: int = MAX_BODY_BYTES
    channel_timeout_s: int = 15
    cleanup_interval_s: int = 2
    connection_limit: int = 500


def http_server(app: App, host: str, port: int, path: str = EVENTS_PATH, limits: HttpLimits = HttpLimits()) -> Any:
    """The Events API endpoint on waitress (a production WSGI server); ``port=0`` picks a free one."""
    return waitress.create_server(SlackRequestHandler(app, path), host=host, port=port, threads=HTTP_THREADS,
                                  ident="mbcbot", clear_untrusted_proxy_headers=True,
                                  max_request_body_size=limits.max_body_bytes, channel_timeout=limits.channel_timeout_s,
                                  cleanup_interval=limits.cleanup_interval_s, connection_limit=limits.connection_limit,
                                  asyncore_use_poll=True)


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    """A Socket Mode connection for the app, its address already fetched (so a bad token is one clear error).

    Raises:
        ConfigError: Slack did not accept the app-level token.
    """
    handler = SocketModeHandler(app, app_token, logger=BOLT_LOG)
    try:
        handler.client.wss_uri = app.client.apps_connections_open(app_token=app_token)["url"]
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_APP_TOKEN was not accepted by Slack ({exc.response.get('error')})") from exc
    return handler


@dataclass(frozen=True)
class SlackEnv:
    """What ``mbcbot slack`` reads from the environment (tokens never come from files)."""

    bot_token: str
    app_token: str | None
    signing_secret: str | None
    api_url: str | None


def read_env(env: Mapping[str, str], http: bool) -> SlackEnv:
    """Raises: ConfigError: one line naming the variable at fault."""
    bot = require_env(env, "SLACK_BOT_TOKEN", "the app's Bot User OAuth Token, xoxb-..., from OAuth & Permissions",
                      "xoxb-", kind="the bot token")
    api_url = optional_env(env, "SLACK_API_URL")
    if http:
        secret = require_env(env, "SLACK_SIGNING_SECRET", "Basic Information > App Credentials; --http needs it")
        return SlackEnv(bot, None, secret, api_url)
    app_token = require_env(env, "SLACK_APP_TOKEN", "an app-level token, xapp-..., with connections:write, "
                            "for Socket Mode; or run with --http", "xapp-", kind="an app-level token")
    return SlackEnv(bot, app_token, None, api_url)


def check_token(client: WebClient) -> None:
    """Fail fast, in one line, on a token Slack refuses or a Web API we cannot reach.

    Raises:
        ConfigError: what is wrong.
    """
    try:
        client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_BOT_TOKEN was not accepted by Slack ({exc.response.get('error')})") from exc
    except (URLError, OSError) as exc:
        raise ConfigError(f"cannot reach the Slack Web API at {client.base_url} ({type(exc).__name__})") from exc


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    """Run the bot until interrupted (SIGINT or SIGTERM): Socket Mode, or the Events API with ``args.http``.

    In-flight answers are finished before it returns.

    Raises:
        ConfigError: a missing or invalid setting (one line).
    """
    config = read_env(os.environ if env is None else env, bool(args.http))

    def checked_client() -> WebClient:
        client = web_client(config.bot_token, config.api_url)
        check_token(client)
        return client

    def serve(client: WebClient, running: Running) -> None:
        executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="mbcbot-slack")
        app, bot = build_app_and_bot(running.session, settings, client, signing_secret=config.signing_secret,
                                     executor=executor)
        running.deliver(bot.delivery)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)
        try:
            if args.http:
                _serve_http(app, args)
            else:
                _serve_socket_mode(app, config)
        finally:
            executor.shutdown(wait=True)

    return run_adapter(settings, quiet_logs=quiet_library_logs, preflight=checked_client, serve=serve)


def _serve_http(app: App, args: argparse.Namespace) -> None:
    server = http_server(app, args.listen, args.port, args.path)
    log.info("listening for Slack requests on port %s, path %s", server.effective_port, args.path)
    server.run()  # until interrupted (waitress stops on KeyboardInterrupt)
    server.close()


def _serve_socket_mode(app: App, config: SlackEnv) -> None:
    assert config.app_token is not None
    handler = socket_mode_handler(app, config.app_token)
    try:
        handler.connect()
    except OSError as exc:
        raise ConfigError(f"cannot open the Socket Mode connection to Slack ({type(exc).__name__})") from exc
    log.info("connected to Slack (Socket Mode)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
