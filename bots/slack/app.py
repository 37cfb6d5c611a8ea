"""Wiring: slack-bolt listeners around the engine session (``mbcbot slack`` itself is :mod:`bots.slack.run`).

Every listener is split in two. The *ack* runs inside the request and only
acknowledges, so Slack hears back within its 3 seconds whatever else is going on
(``process_before_response``). The *answer* runs as a lazy listener on a worker
thread and takes the same path for every event (:meth:`SlackBot._serve`): queue it behind
its conversation's running answer, if any (answers of one conversation are posted in order,
and a busy conversation never holds a worker that others need), begin it once (a redelivered
event is not answered twice), run the engine, post the rendered replies, mark it answered.
The *ack* step accepts each event into the store's inbox first, so an event whose process
dies before its answer is posted is answered by another instance.

Web API calls retry connection errors and rate limits (waiting as long as Slack's
``Retry-After`` says); a message whose blocks Slack rejects is resent as plain text;
any other failure is logged by type and Slack's error code, never with message text,
names or tokens, and the user gets a short apology instead of silence.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import RequestVerification
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackObjectFormationError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.webhook import WebhookClient

from dialogue.config import Settings
from dialogue.replies import Button, Incoming, Reply, ReplyKind
from dialogue.session import STORE_APOLOGY, Earlier, Session

from ..common.delivery import Delivery
from ..common.lazy import lazy_attributes
from ..common.serial import SerialQueues
from ..common.serving import serve_once

from .inbound import (
    Payload,
    Target,
    action_target,
    command_incoming,
    command_target,
    dm_target,
    event_keys,
    from_person,
    is_dm,
    interaction_keys,
    mention_target,
    person_prefix,
    person_salt,
    pressed_payload,
    text_incoming,
)
from .render import ACTION_PREFIX, SlackMessage, plain_message, render_replies

log = logging.getLogger(__name__)
#: Bolt's own loggers take their level and filters from this one (see :func:`quiet_library_logs`).
BOLT_LOG = logging.getLogger("bots.slack.bolt")

SLASH_COMMAND = "/mbc"
#: What the adapter listens to, and the bot scopes that needs: manifest.yaml asks for exactly these.
EVENTS = ("app_mention", "message.im")
SCOPES = ("app_mentions:read", "chat:write", "commands", "im:history")
CLAIM_TTL_S = 6 * 3600.0  # Slack retries within minutes; Socket Mode redelivers after reconnecting
WORKERS = 8  # answers in progress at once (each a worker thread)
#: ``/mbc forget`` and its confirmation buttons (adapter payloads: engine payloads never start with "sl:").
FORGET_COMMAND = "forget"
FORGET_YES, FORGET_NO = "sl:forget", "sl:keep"
FORGET_CONFIRM = ("Delete everything stored about you in this workspace: your direct messages with me, your "
                  "conversations in threads and with /mbc, and the questions I could not answer? This cannot be undone.")
FORGET_KEPT = "OK, nothing was deleted."
FORGET_NOTHING = "There was nothing stored about you."
#: Slack's errors for blocks it will not show; the message then goes out as plain text.
BLOCK_ERRORS = {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"}


class _NotTheUnusedTokenWarning(logging.Filter):
    """Bolt warns "`token` will be unused" whenever SLACK_BOT_TOKEN is set and an App gets a
    client, which is how SLACK_API_URL is applied; the client carries that very token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOG.addFilter(_NotTheUnusedTokenWarning())


class _RequestVerification(RequestVerification):
    """Bolt's signature check, with two changes: a timestamp that is not a number is a bad
    signature (401; slack_sdk's ``int()`` raised, which made a 500 and an error in the log),
    and a refused request is logged without its body (Bolt logs the whole body at INFO)."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        timestamp = req.headers.get("x-slack-request-timestamp", ["0"])[0]
        if req.mode != "socket_mode" and not (timestamp.isascii() and timestamp.isdigit()):
            self._debug_log_error("", timestamp, "")
            return self._build_error_response()
        return super().process(req=req, resp=resp, next=next)

    def _debug_log_error(self, signature: str, timestamp: str, body: str) -> None:
        log.info("refused a request without a valid Slack signature")  # ours: Bolt's loggers stay at WARNING


class ResponseUrlError(Exception):
    """A ``response_url`` POST failed (Slack answers those with a status and a short error code)."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"response_url answered {status} {error}")
        self.status = status
        self.error = error


def describe(exc: BaseException) -> str:
    """An error for the logs: its type and Slack's error code, never content or tokens."""
    if isinstance(exc, SlackApiError):
        needed = exc.response.get("needed")
        return f"SlackApiError {exc.response.status_code} {exc.response.get('error')}" + (f" (needed: {needed})" if needed else "")
    if isinstance(exc, ResponseUrlError):
        return f"ResponseUrlError {exc.status} {exc.error}"
    return type(exc).__name__


def _blocks_rejected(exc: BaseException) -> bool:
    if isinstance(exc, SlackObjectFormationError):  # our blocks broke a limit slack_sdk checks
        return True
    if isinstance(exc, SlackApiError):
        return exc.response.get("error") in BLOCK_ERRORS
    return isinstance(exc, ResponseUrlError) and exc.error in BLOCK_ERRORS


def default_retry_handlers() -> list[RetryHandler]:
    """Retry what Slack did not receive or refused for now. Not 5xx: the message may have been
    posted, and answering twice is worse than an apology."""
    return [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)]


def _in_dm(event: Payload) -> bool:
    return event.get("channel_type") == "im"


@dataclass(frozen=True)
class SlackEvent:
    """One thing to answer, as read from Slack's payload; also what the inbox keeps of it."""

    label: str  # "mention", "message", "command", "button" (for the logs)
    where: Target
    key: str | None  # its identity for deduplication ("namespace:id"); None: it has none
    incoming: Incoming

    def job(self) -> str:
        return json.dumps({"label": self.label, "where": asdict(self.where), "key": self.key,
                           "incoming": asdict(self.incoming)})

    @classmethod
    def from_job(cls, job: str) -> SlackEvent:
        data = json.loads(job)
        return cls(data["label"], Target(**data["where"]), data["key"], Incoming(**data["incoming"]))


def forget_summary(deleted: Sequence[str]) -> str:
    """What ``/mbc forget`` deleted, in words ("1 direct-message conversation and 2 thread conversations")."""
    if not deleted:
        return FORGET_NOTHING
    dms = sum(":dm:" in key or key.count(":") == 2 for key in deleted)
    commands = sum(":user:" in key for key in deleted)
    threads = len(deleted) - dms - commands
    parts = [f"{n} {what} conversation{'s' if n != 1 else ''}" for n, what in
             ((dms, "direct-message"), (threads, "thread"), (commands, "/mbc")) if n]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Deleted {listed}, with any questions kept from them. Nothing else is stored about you."


def _key(keys: Sequence[tuple[str, str]]) -> str | None:
    """The identity an event is accepted under: the message itself (Slack may announce one
    message in two events, and retries an event under the same id), or the interaction."""
    return f"{keys[-1][0]}:{keys[-1][1]}" if keys else None


class SlackBot:
    """The mbcbot listeners for one session: translates events, renders replies.

    Every event is accepted into the store's inbox in the *ack* step, before Slack hears
    back, and marked answered after its replies were posted; an event whose process died
    on the way is answered by another instance sharing the store (:mod:`bots.common.delivery`).

    Args:
        session: the engine session (conversations, and the inbox that deduplicates events).
        settings: the deployment settings (audience per channel via ``channels``).
        command: the slash command to answer.
    """

    def __init__(self, session: Session, settings: Settings, *, command: str = SLASH_COMMAND) -> None:
        self.session = session
        self.settings = settings
        self.command = command
        self.queues = SerialQueues()
        self.retry_handlers = default_retry_handlers()
        self.delivery = Delivery(session.store, "slack", CLAIM_TTL_S, resume=self._resume)
        self.client: WebClient | None = None
        self.salt = ""

    def register(self, app: App) -> None:
        """Add the listeners to a Bolt app: mentions, DMs, the slash command and our buttons only."""
        self.client = app.client
        # people are kept under a hash salted with a secret of the deployment: not reversible to a user id
        self.salt = person_salt(app.client.token or "")
        app.event("app_mention")(ack=self._acknowledge(self._mention), lazy=[self.on_mention])
        app.event("message", matchers=[_in_dm])(ack=self._acknowledge(self._direct_message),
                                                 lazy=[self.on_direct_message])
        app.command(self.command)(ack=self._acknowledge(self._command), lazy=[self.on_command])
        app.action(re.compile(f"^{re.escape(ACTION_PREFIX)}"))(ack=self._acknowledge(self._button),
                                                                lazy=[self.on_button])
        self.delivery.start()

    # --- reading Slack's payloads --------------------------------------------------------------
    def _text_event(self, label: str, locate: Callable[[Payload, Payload, str], Any], body: Payload,
                    context: BoltContext) -> SlackEvent | None:
        event: Payload = body.get("event") or {}
        where = locate(body, event, self.salt) if from_person(event, context.bot_user_id) else None
        if where is None:
            return None
        return SlackEvent(label, where, _key(event_keys(body, event, where)), text_incoming(event, context.bot_user_id))

    def _mention(self, body: Payload, context: BoltContext) -> SlackEvent | None:
        return self._text_event("mention", mention_target, body, context)

    def _direct_message(self, body: Payload, context: BoltContext) -> SlackEvent | None:
        return self._text_event("message", dm_target, body, context)

    def _command(self, body: Payload, context: BoltContext) -> SlackEvent | None:
        where = command_target(body, self.salt)
        if where is None:
            return None
        incoming = command_incoming(body)
        label = "forget?" if (incoming.text or "").strip().lower() == FORGET_COMMAND else "command"
        return SlackEvent(label, where, _key(interaction_keys(body)), incoming)

    def _button(self, body: Payload, context: BoltContext) -> SlackEvent | None:
        where, payload = action_target(body, self.salt), pressed_payload(body, ACTION_PREFIX)
        if where is None or payload is None:
            return None
        label = {FORGET_YES: "forget", FORGET_NO: "keep"}.get(payload, "button")
        return SlackEvent(label, where, _key(interaction_keys(body)), Incoming(payload=payload))

    def _acknowledge(self, read: Callable[[Payload, BoltContext], SlackEvent | None]) -> Callable[..., None]:
        """The ack step: accept the event into the inbox (durable), then acknowledge it."""
        def ack_listener(ack: Ack, body: Payload, context: BoltContext) -> None:
            event = read(body, context)
            if event is not None and event.key is not None:
                self.delivery.accept(event.key, event.job(), event.where.conversation_id)
            ack()

        return ack_listener

    # --- listeners (lazy: on a worker thread, after the ack) -------------------------------
    def on_mention(self, body: Payload, context: BoltContext, client: WebClient) -> None:
        self._serve(self._mention(body, context), client)

    def on_direct_message(self, body: Payload, context: BoltContext, client: WebClient) -> None:
        self._serve(self._direct_message(body, context), client)

    def on_command(self, command: Payload, context: BoltContext, client: WebClient) -> None:
        self._serve(self._command(command, context), client)

    def on_button(self, body: Payload, context: BoltContext, client: WebClient) -> None:
        self._serve(self._button(body, context), client)

    def _resume(self, key: str, job: str) -> None:
        """An event taken over from a stopped instance: answer it on a thread of its own."""
        event = SlackEvent.from_job(job)
        client = self.client
        if client is None:
            raise RuntimeError("the Slack app is not registered yet")
        threading.Thread(target=self._serve, args=(event, client), name="mbcbot-slack-resume", daemon=True).start()

    # --- the common path ---------------------------------------------------------------------
    def _serve(self, event: SlackEvent | None, client: WebClient) -> None:
        """Order, deduplicate and guard one event; answer it, or apologise; then mark it answered."""
        if event is None:
            return
        # in order per conversation; a busy conversation keeps the job, and this worker goes back to the pool
        self.queues.run(event.where.conversation_id, lambda: self._answer(event, client))

    def _answer(self, event: SlackEvent, client: WebClient) -> None:
        where = event.where
        api = self._with_retries(client)

        def work() -> None:
            if event.label in ("forget?", "forget", "keep"):
                self._forget(api, event)
                return
            incoming = replace(event.incoming, audience=self.settings.audience_for(where.channel))
            earlier = Earlier(where.legacy_id, where.legacy_shared) if where.legacy_id else None
            replies = self.session.handle(where.conversation_id, incoming, person=where.person or None, earlier=earlier)
            for message in render_replies(replies):
                self._post(api, where, message)

        serve_once(self.delivery, event.key, event.job, where.conversation_id, work,
                   lambda: self._apologise(api, where), label=f"slack {event.label}", describe=describe)

    def _forget(self, api: WebClient, event: SlackEvent) -> None:
        """``/mbc forget``: ask first; on "Yes", delete all the presser's conversations and say what went."""
        where = event.where
        if event.label == "forget?":
            confirm = Reply(ReplyKind.CLARIFY, FORGET_CONFIRM,
                            buttons=(Button("Yes, delete", FORGET_YES), Button("No, keep it", FORGET_NO)))
            for message in render_replies([confirm]):
                self._post(api, where, message)
            return
        if event.label == "keep":
            self._post(api, where, plain_message(FORGET_KEPT))
            return
        deleted = self.session.forget_all(person_prefix(where.team), f":{where.person}")
        if where.legacy_id and is_dm(where.channel):  # a DM kept under its channel by an earlier version
            if self.session.store.delete(where.legacy_id):
                deleted.append(where.legacy_id)
        self._post(api, where, plain_message(forget_summary(deleted)))
        log.info("slack forget deleted %d conversation(s)", len(deleted))

    def _with_retries(self, client: WebClient) -> WebClient:
        """The request's client with our retry handlers (a copy: a host app's client is left alone)."""
        return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl,
                         proxy=client.proxy, headers=client.headers, logger=client.logger,
                         retry_handlers=self.retry_handlers)

    # --- sending -------------------------------------------------------------------------------
    def _post(self, api: WebClient, where: Target, message: SlackMessage) -> None:
        """Post one message; if Slack rejects its blocks, post its text instead."""
        try:
            self._send(api, where, message.text, message.block_dicts())
        except (SlackApiError, ResponseUrlError, SlackObjectFormationError) as exc:
            if not _blocks_rejected(exc):
                raise
            log.warning("Slack rejected a message's blocks (%s); sending its text instead", describe(exc))
            self._send(api, where, message.text, None)

    def _send(self, api: WebClient, where: Target, text: str, blocks: list[dict[str, Any]] | None) -> None:
        if where.response_url is not None:  # only the caller sees it
            hook = WebhookClient(where.response_url, ssl=api.ssl, proxy=api.proxy, retry_handlers=self.retry_handlers)
            response = hook.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False,
                                 unfurl_links=False, unfurl_media=False)
            if response.status_code != 200:
                raise ResponseUrlError(response.status_code, (response.body or "")[:40])
            return
        api.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=blocks,
                             unfurl_links=False, unfurl_media=False)

    def _apologise(self, api: WebClient, where: Target) -> None:
        try:
            self._send(api, where, plain_message(STORE_APOLOGY).text, None)
        except Exception as exc:  # noqa: BLE001 - nothing more we can do for this event
            log.error("could not send the apology: %s", describe(exc))


# --- building and running --------------------------------------------------------------------
def register(app: App, session: Session, settings: Settings, *, command: str = SLASH_COMMAND) -> SlackBot:
    """Add the mbcbot listeners to a Bolt App you already run (plugin mode).

    They claim ``app_mention`` events, ``message`` events in DMs, the slash command and
    buttons whose action id starts with ``mbcbot:``; your other listeners keep the rest.
    Each acknowledges at once and answers on a worker thread (lazy listeners), in either
    of Bolt's ``process_before_response`` modes. Bolt's and slack_sdk's loggers are kept at
    WARNING from then on: below that they log message bodies and user and channel ids.
    """
    quiet_library_logs()  # a host's Bolt logs request bodies and ids at INFO and DEBUG
    app.logger.setLevel(max(logging.WARNING, app.logger.getEffectiveLevel()))
    bot = SlackBot(session, settings, command=command)
    bot.register(app)
    return bot


def _on_error(error: Exception) -> None:
    """Errors outside our listeners: the type only, never the request."""
    log.error("slack error: %s", describe(error))


def api_base_url(url: str | None) -> str:
    """The Web API base URL (``https://slack.com/api/`` unless given), with its trailing slash."""
    return (url or WebClient.BASE_URL).rstrip("/") + "/"


def web_client(token: str, api_url: str | None = None) -> WebClient:
    """A Web API client for the bot token; ``api_url`` for GovSlack (``https://slack-gov.com/api/``) or a test fake."""
    return WebClient(token=token, base_url=api_base_url(api_url), retry_handlers=default_retry_handlers())


def build_app(session: Session, settings: Settings, client: WebClient, *, signing_secret: str | None = None,
              executor: Executor | None = None, command: str = SLASH_COMMAND) -> App:
    """A Bolt App serving mbcbot (calls ``auth.test`` on the client at once, as Bolt does).

    Args:
        client: the Web API client (see :func:`web_client`).
        signing_secret: verifies HTTP requests; not needed in Socket Mode.
        executor: runs the answers (lazy listeners); a pool of ``WORKERS`` threads by default.
    """
    return build_app_and_bot(session, settings, client, signing_secret=signing_secret, executor=executor,
                             command=command)[0]


def build_app_and_bot(session: Session, settings: Settings, client: WebClient, *, signing_secret: str | None = None,
                      executor: Executor | None = None, command: str = SLASH_COMMAND) -> tuple[App, SlackBot]:
    """:func:`build_app`, and the bot it registered (whose delivery ``main()`` stops at exit)."""
    quiet_library_logs()
    app = App(client=client, signing_secret=signing_secret or "", process_before_response=True,
              listener_executor=executor or ThreadPoolExecutor(WORKERS, thread_name_prefix="mbcbot-slack"),
              logger=BOLT_LOG, name=BOLT_LOG.name, request_verification_enabled=False,
              before_authorize=_RequestVerification(signing_secret or "", base_logger=BOLT_LOG))  # where Bolt's own goes
    bot = register(app, session, settings, command=command)
    app.error(_on_error)
    return app, bot


def quiet_library_logs() -> None:
    """slack_sdk logs request bodies (message text) at DEBUG and Bolt logs requests, user and
    channel ids at DEBUG and INFO: keep both at WARNING, whatever MBCBOT_LOG_LEVEL says (Bolt
    copies the level to each logger it makes, so this runs before the App is built)."""
    for name in ("slack_sdk", "slack_bolt", BOLT_LOG.name):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in list(logging.root.manager.loggerDict):  # loggers a host's App made already, with their own level
        if name.startswith(("slack_sdk.", "slack_bolt.")):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("waitress").setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))


# --- moved to run.py (the environment, the servers and main), still importable from here --------
if TYPE_CHECKING:
    from .run import (
        EVENTS_PATH,
        HTTP_THREADS,
        MAX_BODY_BYTES,
        HttpLimits,
        SlackEnv,
        check_token,
        http_server,
        main,
        read_env,
        socket_mode_handler,
    )

__getattr__ = lazy_attributes(__name__, dict.fromkeys(
    ("EVENTS_PATH", "HTTP_THREADS", "MAX_BODY_BYTES", "HttpLimits", "SlackEnv", "check_token", "http_server", "main",
     "read_env", "socket_mode_handler"), "bots.slack.run"))
