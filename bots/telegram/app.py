"""Wiring: python-telegram-bot handlers around the engine session (``mbcbot telegram`` itself is
:mod:`bots.telegram.run`).

Every update takes the same path (:meth:`TelegramBot._serve`): answer a button press at
once, pass the chat's flood gate, wait for the chat's turn (updates of one chat are
handled in order, different chats concurrently), claim the update id so a redelivered
update is not answered twice, run the engine in a worker thread (the session is
synchronous and may touch SQLite), and send the rendered replies. Any failure is logged
by type only, never with message text or names, and the user gets a short apology.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, CallbackQuery, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from dialogue.config import Settings
from dialogue.replies import Button, Incoming, Reply
from dialogue.session import STORE_APOLOGY, Session

from ..common.delivery import Delivery
from ..common.lazy import lazy_attributes
from ..common.locks import AsyncKeyedLock as ChatLocks
from ..common.serving import serve_once_async

from .flood import Admission, ChatRateLimiter, FloodGate
from .inbound import Target, addressed, payload_incoming, target, text_incoming
from .render import Outgoing, html_to_plain, plain_message, render_replies

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Start, and what I can and cannot do"),
    ("help", "How to ask a question"),
    ("topics", "Browse the topics"),
    ("reset", "Start over"),
    ("forget", "Delete everything stored about this chat"),
)
#: Buttons of the adapter's own; engine payloads never start with "tg:".
FORGET_YES, FORGET_NO = "tg:forget", "tg:keep"
UPDATE_CLAIM_TTL_S = 48 * 3600.0  # Telegram keeps undelivered updates for 24 hours
#: The handler group that runs after every other: marks each update answered.
FINISHED_GROUP = 1_000_000
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
#: "typing" is shown only for a turn not answered by then (most are answered in milliseconds).
TYPING_AFTER_S = 0.4

UNSUPPORTED = "I can only read typed messages. Please type your question in words."
SLOW_DOWN = "You are sending messages faster than I can answer. Please wait a few seconds, then send your question again."
FORGET_CONFIRM = "Delete everything stored about this chat? This cannot be undone."
FORGET_KEPT = "OK, nothing was deleted."
FORGET_BUTTONS = (Button("Yes, delete", FORGET_YES), Button("No, keep it", FORGET_NO))


def update_job(update: Update) -> str:
    """What the inbox keeps of an update: enough for any instance to answer it."""
    return json.dumps(update.to_dict())


class DurableUpdateQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The application's update queue, accepting each update into the store's inbox first.

    Polling confirms an update to Telegram with the next ``getUpdates`` and the webhook answers
    200 as soon as the update is queued: so the update is durable before it is in the queue.
    A redelivery of an update answered already (or being answered) is dropped here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.delivery: Delivery | None = None  # the handlers' own, set by add_handlers

    async def put(self, item: Any) -> None:
        delivery = self.delivery
        if delivery is not None and isinstance(item, Update) and not delivery.holds(str(item.update_id)):
            where = target(item)
            if where is not None:
                fresh = await asyncio.to_thread(delivery.accept, str(item.update_id), update_job(item),
                                                where.conversation_id)
                if not fresh:
                    log.info("update %s was already answered", item.update_id)
                    return
        await super().put(item)


class TelegramBot:
    """The mbcbot handlers for one session: translates updates, renders replies.

    Args:
        session: the engine session (conversations, consent, forgetting).
        settings: the deployment settings (audience per chat via ``channels``).
        gate: the per-chat flood gate for incoming updates.
    """

    def __init__(self, session: Session, settings: Settings, gate: FloodGate | None = None) -> None:
        self.session = session
        self.settings = settings
        self.gate = gate or FloodGate()
        self.locks = ChatLocks()
        self.delivery = Delivery(session.store, "telegram", UPDATE_CLAIM_TTL_S, resume=self._resume)
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Start taking over updates abandoned by stopped instances (from ``post_init``)."""
        self.application = application
        self._loop = asyncio.get_running_loop()
        self.delivery.start()

    def _resume(self, key: str, job: str) -> None:
        """An update taken over from a stopped instance: back into the application's queue."""
        application, loop = self.application, self._loop
        if application is None or loop is None:
            raise RuntimeError("the application is not running")
        update = Update.de_json(json.loads(job), application.bot)
        asyncio.run_coroutine_threadsafe(application.update_queue.put(update), loop).result(10)

    async def on_finished(self, update: object, context: Context) -> None:
        """After every handler: the update is answered (or needs no answer), so it is never taken over."""
        if isinstance(update, Update) and self.delivery.holds(str(update.update_id)):
            await asyncio.to_thread(self.delivery.answered, str(update.update_id))

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        new = filters.UpdateType.MESSAGE  # edits are ignored: the question was answered already
        return [
            CommandHandler("start", self.on_start, filters=new),
            CommandHandler("help", self.on_help, filters=new),
            CommandHandler("topics", self.on_topics, filters=new),
            CommandHandler("reset", self.on_reset, filters=new),
            CommandHandler("forget", self.on_forget, filters=new),
            CallbackQueryHandler(self.on_callback),
            MessageHandler(new & filters.TEXT, self.on_text),
            MessageHandler(new & ~filters.TEXT & ~filters.StatusUpdate.ALL, self.on_other),
        ]

    # --- handlers ---------------------------------------------------------------------
    async def on_start(self, update: Update, context: Context) -> None:
        await self._serve(update, context, "start", lambda where: self._engine_turn(context, where, self._start))

    async def on_help(self, update: Update, context: Context) -> None:
        await self._serve(update, context, "help", lambda where: self._turn(context, where, Incoming(text="help")))

    async def on_topics(self, update: Update, context: Context) -> None:
        await self._serve(update, context, "topics", lambda where: self._turn(context, where, Incoming(payload="m:")))

    async def on_reset(self, update: Update, context: Context) -> None:
        await self._serve(update, context, "reset", lambda where: self._turn(context, where, Incoming(payload="r:")))

    async def on_forget(self, update: Update, context: Context) -> None:
        confirm = plain_message(FORGET_CONFIRM, FORGET_BUTTONS)
        await self._serve(update, context, "forget", lambda where: self._send(context, where, [confirm]))

    async def on_text(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or not addressed(message, context.bot.id, context.bot.username):
            return
        incoming = text_incoming(message, context.bot.username)
        await self._serve(update, context, "message", lambda where: self._turn(context, where, incoming))

    async def on_other(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or not addressed(message, context.bot.id, context.bot.username):
            return
        await self._serve(update, context, "non-text", lambda where: self._send(context, where, [plain_message(UNSUPPORTED)]))

    async def on_callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        data = query.data if isinstance(query.data, str) else None

        async def work(where: Target) -> None:
            if data in (FORGET_YES, FORGET_NO):
                await self._forget(context, where, query, confirmed=data == FORGET_YES)
            elif data:
                await self._turn(context, where, payload_incoming(data))

        await self._serve(update, context, "button", work)

    # --- the common path -------------------------------------------------------------------
    async def _serve(self, update: Update, context: Context, label: str, work: Callable[[Target], Awaitable[None]]) -> None:
        """Order, deduplicate, flood-control and guard one update (no await before the lock)."""
        answering = asyncio.ensure_future(self._answer(update.callback_query)) if update.callback_query else None
        try:
            where = target(update)
            if where is None:
                return
            admission = self.gate.admit(where.conversation_id)  # per member in a group
            if admission is not Admission.ADMIT:
                if admission is Admission.NOTIFY:
                    log.warning("a chat is over its message rate; dropping its updates for a moment")
                    with suppress(TelegramError):
                        await self._send(context, where, [plain_message(SLOW_DOWN)])
                return
            async with self.locks.hold(where.chat_id):
                await serve_once_async(self.delivery, str(update.update_id), lambda: update_job(update),
                                       where.conversation_id, lambda: work(where),
                                       lambda: self._apologise(context, where),
                                       label=f"telegram {label} update {update.update_id}")
        finally:
            if answering is not None:
                await answering

    async def _answer(self, query: CallbackQuery) -> None:
        """Stop the button's spinner; always, even for presses we ignore."""
        try:
            await query.answer()
        except TelegramError as exc:  # e.g. "query is too old" after a restart
            log.info("could not answer a button press: %s", type(exc).__name__)

    def _audience(self, where: Target) -> str:
        return self.settings.audience_for(str(where.chat_id))

    async def _turn(self, context: Context, where: Target, incoming: Incoming) -> None:
        """One engine turn: the incoming action with this chat's audience, then the replies."""
        incoming = replace(incoming, audience=self._audience(where))
        await self._engine_turn(context, where, lambda conversation_id, _: self.session.handle(conversation_id, incoming))

    async def _engine_turn(self, context: Context, where: Target, call: Callable[[str, str], list[Reply]]) -> None:
        """``call(conversation_id, audience)`` in a worker thread, with "typing" shown if it is slow."""
        async with self._typing_if_slow(context, where):
            replies = await asyncio.to_thread(call, where.conversation_id, self._audience(where))
        await self._send(context, where, render_replies(replies))

    def _start(self, conversation_id: str, audience: str) -> list[Reply]:
        """The welcome: the engine greets, and while consent is pending its disclaimer
        carries the "I understand" button."""
        return self.session.handle(conversation_id, Incoming(text="hello", audience=audience))

    async def _forget(self, context: Context, where: Target, query: CallbackQuery, confirmed: bool) -> None:
        if confirmed:
            replies = await asyncio.to_thread(self.session.forget, where.conversation_id, self._audience(where))
            outgoing = render_replies(replies)
        else:
            outgoing = [plain_message(FORGET_KEPT)]
        message = query.message
        if outgoing and isinstance(message, Message):
            try:
                await context.bot.edit_message_text(
                    outgoing[0].text, chat_id=where.chat_id, message_id=message.message_id,
                    parse_mode=ParseMode.HTML, reply_markup=None, link_preview_options=NO_PREVIEW,
                )
                outgoing = outgoing[1:]
            except TelegramError as exc:  # the confirmation is too old to edit: say it anew
                log.info("could not edit the confirmation: %s", type(exc).__name__)
        await self._send(context, where, outgoing)

    # --- sending ---------------------------------------------------------------------------
    @asynccontextmanager
    async def _typing_if_slow(self, context: Context, where: Target) -> AsyncIterator[None]:
        """Show "typing" if the body takes longer than :data:`TYPING_AFTER_S`; once shown, it is
        sent before the answer (a "typing" arriving after the answer would linger for 5 s)."""
        shown: list[asyncio.Future[None]] = []
        timer = asyncio.get_running_loop().call_later(
            TYPING_AFTER_S, lambda: shown.append(asyncio.ensure_future(self._typing(context, where))))
        try:
            yield
        finally:
            timer.cancel()
            if shown:
                await shown[0]

    async def _typing(self, context: Context, where: Target) -> None:
        try:
            await context.bot.send_chat_action(where.chat_id, ChatAction.TYPING, message_thread_id=where.thread_id)
        except TelegramError as exc:  # cosmetic: never let it stop the answer
            log.info("typing action failed: %s", type(exc).__name__)

    async def _send(self, context: Context, where: Target, outgoing: Sequence[Outgoing]) -> None:
        for number, out in enumerate(outgoing):
            kwargs: dict[str, Any] = {
                "chat_id": where.chat_id,
                "reply_markup": out.keyboard,
                "message_thread_id": where.thread_id,
                "link_preview_options": NO_PREVIEW,
            }
            if number == 0 and where.reply_to is not None:  # in groups, quote the question
                kwargs["reply_parameters"] = ReplyParameters(where.reply_to, allow_sending_without_reply=True)
            try:
                await context.bot.send_message(text=out.text, parse_mode=ParseMode.HTML, **kwargs)
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    raise
                log.warning("Telegram could not parse a message as HTML; resending it as plain text")
                await context.bot.send_message(text=html_to_plain(out.text), parse_mode=None, **kwargs)

    async def _apologise(self, context: Context, where: Target) -> None:
        try:
            await self._send(context, where, [plain_message(STORE_APOLOGY)])
        except Exception as exc:  # noqa: BLE001 - nothing more we can do for this update
            log.error("could not send the apology: %s", type(exc).__name__)


# --- building and running --------------------------------------------------------------------
async def register_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Tell Telegram our commands (the menu next to the text box)."""
    try:
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
    except TelegramError as exc:
        log.warning("could not register the bot's commands: %s", type(exc).__name__)


def add_handlers(application: Application[Any, Any, Any, Any, Any, Any], session: Session, settings: Settings,
                 *, group: int = 0, gate: FloodGate | None = None) -> TelegramBot:
    """Add the mbcbot handlers to an Application you already run (plugin mode).

    The commands are registered with Telegram at start-up (chained to any ``post_init``
    you set; if the application is already running, await :func:`register_commands`).
    For ordering per chat with other chats served concurrently, build the application
    with ``concurrent_updates(True)``; for flood control, with a rate limiter such as
    :class:`~bots.telegram.flood.ChatRateLimiter`.
    """
    quiet_library_logs()
    bot = TelegramBot(session, settings, gate)
    application.add_handlers(bot.handlers(), group=group)
    application.add_handler(TypeHandler(Update, bot.on_finished), group=FINISHED_GROUP)
    if isinstance(application.update_queue, DurableUpdateQueue):
        application.update_queue.delivery = bot.delivery
    previous = application.post_init

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if previous is not None:
            await previous(app)
        bot.attach(app)
        await register_commands(app)

    application.post_init = post_init
    return bot


async def _on_error(update: object, context: Context) -> None:
    """Errors outside our handlers (polling, network): the type only, never the update."""
    log.error("telegram error: %s", type(context.error).__name__)


def api_urls(base: str) -> tuple[str, str]:
    """Bot API and file URLs for a server root (``http://host:8081``) or a ``.../bot`` URL."""
    base = base.rstrip("/")
    if "{token}" in base:
        return base, base.replace("/bot", "/file/bot", 1)
    root = base.removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def build_application(session: Session, settings: Settings, token: str, base_url: str | None = None, *,
                      rate_limiter: BaseRateLimiter[Any] | None = None,
                      gate: FloodGate | None = None) -> Application[Any, Any, Any, Any, Any, Any]:
    """An Application serving mbcbot: concurrent across chats, in order within one, flood-controlled.

    Args:
        base_url: a Bot API server other than Telegram's (self-hosted, or a test fake).
    """
    return build_application_and_bot(session, settings, token, base_url, rate_limiter=rate_limiter, gate=gate)[0]


def build_application_and_bot(session: Session, settings: Settings, token: str, base_url: str | None = None, *,
                              rate_limiter: BaseRateLimiter[Any] | None = None, gate: FloodGate | None = None,
                              ) -> tuple[Application[Any, Any, Any, Any, Any, Any], TelegramBot]:
    """:func:`build_application`, and the bot whose handlers it runs (whose delivery ``main()`` stops at exit)."""
    quiet_library_logs()  # before the Bot is built: it logs its URL, token included, at DEBUG
    queue = DurableUpdateQueue()  # durable once add_handlers gives it the handlers' delivery
    builder = (ApplicationBuilder().token(token).concurrent_updates(True).update_queue(queue)
               .rate_limiter(rate_limiter or ChatRateLimiter()))
    if base_url:
        api, files = api_urls(base_url)
        builder = builder.base_url(api).base_file_url(files)
    application = builder.build()
    bot = add_handlers(application, session, settings, gate=gate)
    application.add_error_handler(_on_error)
    return application, bot


class _WithoutData(logging.Filter):
    """python-telegram-bot's own records keep their wording and lose their data.

    Its arguments and tracebacks carry whole updates (an update it cannot parse is logged
    at CRITICAL with its text), received JSON, and the token (``InvalidToken`` quotes it):
    each argument becomes "..." and a traceback the exception's type.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = _PLACEHOLDER.sub("...", str(record.msg)).replace("%%", "%"), ()
        if record.exc_info:
            error = record.exc_info[1]
            record.msg = f"{record.msg} ({type(error).__name__})" if error is not None else record.msg
            record.exc_info, record.exc_text = None, None
        record.stack_info = None
        return True


_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")
_WITHOUT_DATA = _WithoutData()


def quiet_library_logs() -> None:
    """httpx logs request URLs, which contain the bot token: at WARNING. python-telegram-bot logs
    whole updates at DEBUG (kept at INFO or above) and data at any level: every one of its loggers
    (made when its modules are imported, so all exist by now) gets :class:`_WithoutData`."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    telegram_log = logging.getLogger("telegram")
    telegram_log.setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))
    names = [name for name in list(logging.root.manager.loggerDict) if name.startswith("telegram.")]
    for logger in [telegram_log, *map(logging.getLogger, names)]:
        if _WITHOUT_DATA not in logger.filters:
            logger.addFilter(_WITHOUT_DATA)


quiet_library_logs()  # at import, so that a host application's Bot, built after it, is quiet too (plugin mode)


# --- moved to run.py (the environment, the token check and main), still importable from here -----
if TYPE_CHECKING:
    from .run import ALLOWED_UPDATES, SECRET_PATTERN, TOKEN_REFUSED, TelegramEnv, check_token, check_webhook_url, main, read_env

__getattr__ = lazy_attributes(__name__, dict.fromkeys(
    ("ALLOWED_UPDATES", "SECRET_PATTERN", "TOKEN_REFUSED", "TelegramEnv", "check_token", "check_webhook_url", "main",
     "read_env"), "bots.telegram.run"))
