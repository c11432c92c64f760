"""The LLM summary feature: when a handoff starts and an LLM is configured
(`BATON_LLM_BASE_URL`), the model writes a short summary of the conversation for the agent,
kept beside the extractive one (`bot.handoff.summary`) under the "llm" key of the handoff's
summary JSON; the console shows both.

| where | what |
|---|---|
| `TurnCommitted` listener | a turn that started waiting wakes the summariser |
| background task | open handoffs without an LLM summary get one, one call each |

The customer's turn never waits for the model: the handoff and its extractive summary commit
with the turn; the call happens afterwards in this feature's own task. The work is durable
without a table of its own: an open handoff whose summary JSON has no "llm" key still needs
one, so a restart picks up what the last run left, and a handoff that has one (written, or a
failure recorded) is never sent again. The process that makes one first claims it
({"pending": true, "at": ...}, under a row lock), so several processes never both pay; a
claim left by a process that stopped mid-call is taken over after `stale_after` seconds. A
failure (timeout, refusal, no answer after the retries) is recorded as {"text": null,
"error": ...} and the extractive summary stays what the agent reads. Phone numbers and
e-mail addresses are masked by `dialogs.llm.LLM` before the request leaves the process; the
prompt is `bot.llm_summary.prompt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.engine.signals import ConversationChanged, Signals, TurnCommitted
from bot.llm_summary.prompt import MAX_MESSAGES, build_messages
from dialogs.llm import LLM
from storage import ConsoleStore, LLMSummaries
from storage.vocabulary import OPEN, ConversationStatus

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder

log = logging.getLogger("baton.llm_summary")

__all__ = ["LLMSummary"]

MAX_TEXT = 4000
"""The longest summary kept, in characters."""


class LLMSummary:
    """LLM-written handoff summaries for the agent (see the module docstring).

    Installed by `bot.assembly.default_features` when `BATON_LLM_BASE_URL` is set.

    Example:
        >>> create_app(settings, app, features=[LLMSummary(LLM(base_url=url, model="m"))])

    Args:
        llm: the model.
        every: seconds between looks for handoffs still without one (besides the wake-up
            each new handoff gives).
    """

    def __init__(
        self, llm: LLM, *, every: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.llm = llm
        self.every = every
        self.stale_after = max(600.0, 2 * llm.timeout * (llm.retries + 1))
        """Seconds after which another process's unfinished claim on a handoff is taken
        over (that process stopped mid-call)."""
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._db: LLMSummaries | None = None
        self._history: ConsoleStore | None = None
        self._signals: Signals | None = None
        self._busy: set[int] = set()

    def install(self, builder: EngineBuilder) -> None:
        """Listen for turns that start a handoff."""
        self._db = LLMSummaries(builder.store)
        self._history = ConsoleStore(builder.store)
        self._signals = builder.signals
        builder.on(TurnCommitted, self._committed)

    async def start(self, engine: Engine) -> None:
        """Summarise what a previous run left, then each new handoff."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="baton-llm-summary")

    async def stop(self) -> None:
        """Stop; an unfinished call is made again by the next run."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _committed(self, signal: TurnCommitted) -> None:
        if signal.after == ConversationStatus.WAITING and signal.before not in OPEN:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.summarize_pending()
            except Exception:
                log.exception("summarising handoffs failed; trying again")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every):
                    await self._wake.wait()

    async def summarize_pending(self) -> int:
        """Give every open handoff without an LLM summary one; returns how many were
        stored."""
        if self._db is None or self._history is None:
            raise RuntimeError("the LLM summary feature is not installed in an engine")
        stored = 0
        now = self.clock()
        stale_before = now - self.stale_after
        for handoff in await self._db.pending(stale_before):
            handoff_id = int(handoff["id"])
            if handoff_id in self._busy:
                continue
            self._busy.add(handoff_id)
            try:
                if not await self._db.claim(handoff_id, self.clock(), stale_before):
                    continue  # made meanwhile, or being made by another process
                history = await self._history.history(
                    int(handoff["customer_id"]), limit=MAX_MESSAGES
                )
                record = await self._call(build_messages(handoff["summary"] or {}, history))
                if await self._db.store(handoff_id, record):
                    stored += 1
                    if self._signals is not None:
                        self._signals.emit(ConversationChanged(int(handoff["customer_id"])))
            finally:
                self._busy.discard(handoff_id)
        return stored

    async def _call(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        started = time.monotonic()
        record: dict[str, Any] = {
            "text": None,
            "error": None,
            "model": self.llm.model,
            "tokens_in": 0,
            "tokens_out": 0,
            "cost": 0.0,
            "attempts": 0,
            "seconds": 0.0,
            "at": self.clock(),
        }
        try:
            result = await self.llm.chat(messages)
        except Exception as exc:  # a failed call is recorded, never retried
            log.warning("the LLM summary of a handoff failed: %s", exc)
            record["error"] = str(exc) or type(exc).__name__
            record["seconds"] = round(time.monotonic() - started, 3)
            return record
        for key in ("model", "tokens_in", "tokens_out", "cost", "attempts", "seconds"):
            record[key] = result[key]
        text = str(result.get("content") or "").strip()
        if text:
            record["text"] = text[:MAX_TEXT]
        else:
            record["error"] = "the model answered with an empty summary"
        return record
