"""Privacy as a feature of the engine: a customer's own requests (erase, export, withdraw a
consent) answered before the flows, and redelivered webhooks of erased messages dropped.

- "forget me" / "vergeet mij" asks for confirmation (buttons; numbered options on SMS); the
  yes erases the customer in that turn, and the goodbye is sent straight through the
  channel's adapter, since nothing of the customer, not even an outbox row, stays behind.
  The pending question is kept in this process for ten minutes, and read back from the audit
  trail when the engine starts.
- "send me my data" / "mijn gegevens" answers with a one-time link that expires
  (`BATON_PRIVACY_EXPORT_MINUTES`), sent only to the identity that asked, on its channel:
  the channel's verified webhook (Telegram's secret token, Twilio's signature, Slack's
  signing secret) is the identity check. The link opens a page with a button; only that
  button's POST uses the token up, so a link preview cannot.
- "stop marketing" / "geen reclame meer" records a withdrawal of that purpose's consent;
  an answer to `ctx.consent` is recorded in the turn it is given (purpose, channel and the
  exact question shown, with its reason).
- An erasure made by another process (`baton customer erase`, another server's console) is
  read from the audit trail every `ERASURE_POLL_SECONDS`, and this process forgets what it
  caches of that customer (their identities, state), so their next message makes a new
  customer.
- A message whose platform id an erasure tombstoned is a redelivery of an erased message: the
  new customer it made keeps nothing of it (payload and name cleared, no message recorded,
  no flow run). Checked, for three days after an erasure (`REDELIVERY_SECONDS`), on a
  customer's first turn in this process and while they have no memory and no flow running,
  which is when a redelivery arrives; at other times no turn pays a query for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.base import Address
from bot.engine.pipeline import Slot, Turn
from bot.engine.signals import ConversationChanged, TurnCommitted
from bot.media import MediaIntake
from bot.privacy import texts
from bot.privacy.retention import RetentionJob, periods
from bot.settings import Settings
from dialogs.consent import CONSENT
from dialogs.prompts import Choice, Prompt, match_choice
from storage.consents import Consents
from storage.erasure import Erased
from storage.files import FileStore, LocalFolder
from storage.privacy import PrivacyStore

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder
    from bot.engine.signals import Signals
    from bot.engine.states import CustomerStates

log = logging.getLogger("baton.privacy")

__all__ = ["Privacy"]

CONFIRM_SECONDS = 600.0
ERASURE_POLL_SECONDS = 2.0
REDELIVERY_SECONDS = 3 * 86400.0
"""How long after an erasure a platform may still redeliver one of its messages."""
_CHECKED = 20_000
_ERASE_CHOICES = (
    Choice(texts.ERASE_CHOICE, texts.ERASE_YES_LABEL),
    Choice(texts.ERASE_KEEP_CHOICE, texts.ERASE_KEEP_LABEL),
)


class Privacy:
    """The privacy feature (see the module docstring)."""

    def __init__(
        self,
        *,
        public_url: str | None = None,
        export_minutes: float = 30.0,
        retention_days: Mapping[str, float] | None = None,
        retention_every_hours: float = 0.0,
        media_folder: str = "./baton-media",
    ) -> None:
        self.media_folder = media_folder
        """Where the media feature keeps files when no engine says otherwise (the CLI)."""
        self.retention_days = dict(retention_days or {})
        self.retention_every_hours = retention_every_hours
        self._retention: RetentionJob | None = None
        self.public_url = public_url.rstrip("/") if public_url else None
        """Where customers open export links (`BATON_PUBLIC_URL`); None: no links."""
        self.export_minutes = export_minutes
        self._db: PrivacyStore | None = None
        self._consents: Consents | None = None
        self._states: CustomerStates | None = None
        self._signals: Signals | None = None
        self._engine: Engine | None = None
        self._asked: dict[int, float] = {}
        """Customers asked to confirm an erasure, and until when the question stands."""
        self._erased: set[int] = set()
        self._seen_audit = 0
        self._recent = False
        self._recent_read_at = -1e9
        self._watch: asyncio.Task[None] | None = None
        self._checked: OrderedDict[int, None] = OrderedDict()
        """Customers whose first turn here was checked for redelivered erased messages."""

    def install(self, builder: EngineBuilder) -> None:
        """Register the stages and the listener that forgets an erased customer's state."""
        self._db = PrivacyStore(builder.store)
        self._consents = Consents(builder.store)
        self._states = builder.states
        self._signals = builder.signals
        builder.stage(Slot.CONTROL, self.redelivered)
        builder.stage(Slot.INTERCEPT, self.intercept)
        builder.stage(Slot.COMPOSE, self.erased_meanwhile)
        builder.stage(Slot.COMPOSE, self.record_consents)
        builder.on(TurnCommitted, self._committed)

    @classmethod
    def from_settings(cls, settings: Settings, *, scheduled: bool = True) -> Privacy:
        """The feature as the settings configure it; without `scheduled`, retention does not
        run on a timer here (`baton shell`)."""
        return cls(
            public_url=settings.public_url,
            export_minutes=settings.privacy_export_minutes,
            retention_days=periods(settings),
            retention_every_hours=settings.retention_every_hours if scheduled else 0.0,
            media_folder=settings.media_folder,
        )

    async def start(self, engine: Engine) -> None:
        """Read back erasure questions still standing; start the retention timer."""
        self._engine = engine
        self._retention = RetentionJob(self.db, self.retention_days, self.retention_every_hours)
        self._retention.start()
        newest = await self.db.audit_entries(limit=1)
        self._seen_audit = newest[0].id if newest else 0
        self._watch = asyncio.create_task(self._watch_erasures(), name="baton-erasures")
        since = time.time() - CONFIRM_SECONDS
        for entry in await self.db.audit_entries(action="erase_asked", limit=1000):
            if entry.created_at >= since and entry.customer_id is not None:
                self._asked.setdefault(entry.customer_id, entry.created_at + CONFIRM_SECONDS)

    async def stop(self) -> None:
        """Stop the retention timer and the watch for erasures made elsewhere."""
        if self._retention is not None:
            await self._retention.stop()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def catch_up(self) -> None:
        """Forget what this process caches of customers erased by another process (the
        console of another server, `baton customer erase`); runs every
        `ERASURE_POLL_SECONDS` by itself."""
        for entry in await self.db.audit_entries(action="erase", after=self._seen_audit):
            self._seen_audit = max(self._seen_audit, entry.id)
            ids = (entry.detail or {}).get("customers") or [entry.customer_id]
            erased = tuple(int(i) for i in ids if isinstance(i, int))
            if erased and not set(erased) <= self._erased:
                self.db.store.forget_identities(erased)
                self._forget(erased)

    async def _watch_erasures(self) -> None:
        while True:
            await asyncio.sleep(ERASURE_POLL_SECONDS)
            try:
                await self.catch_up()
            except Exception:
                log.exception("reading erasures made elsewhere failed; trying again")

    @property
    def db(self) -> PrivacyStore:
        """Privacy's storage calls."""
        if self._db is None:
            raise RuntimeError("the privacy feature is not installed in an engine")
        return self._db

    # -- erasure by people -----------------------------------------------------------------

    async def erase(
        self,
        customer_id: int,
        *,
        actor: str,
        agent_id: int | None = None,
        ip: str | None = None,
        channel: str | None = None,
    ) -> Erased | None:
        """Erase a customer (an admin, the CLI or the customer), and drop what this process
        holds of them."""
        done = await self.db.erase(
            customer_id, actor=actor, agent_id=agent_id, ip=ip, channel=channel
        )
        if done is not None:
            self._forget(done.customer_ids)
            await self._remove_files(done.files)
            log.info("customer %s erased by %s", customer_id, actor)
        return done

    async def _remove_files(self, locations: list[str]) -> None:
        """Remove the bytes of the erased customer's files through the media feature's store
        (a file already gone is fine; one that cannot be removed is logged by its row's id
        only and left for the next erasure run to report)."""
        if not locations:
            return
        files: FileStore = LocalFolder(self.media_folder)
        if self._engine is not None:
            with contextlib.suppress(LookupError):
                files = self._engine.feature(MediaIntake).files
        for location in locations:
            try:
                await files.delete(location)
            except Exception:
                log.exception("a file of an erased customer could not be removed")

    async def _recent_erasures(self) -> bool:
        # Read at most once a minute: whether any erasure is recent enough for a platform to
        # still redeliver its messages. Most of the time none is, and no turn pays a query.
        now = time.monotonic()
        if now >= self._recent_read_at + 60:
            self._recent_read_at = now
            newest = await self.db.newest_tombstone()
            self._recent = newest is not None and newest > time.time() - REDELIVERY_SECONDS
        return self._recent

    def _forget(self, customer_ids: tuple[int, ...]) -> None:
        self._recent = True
        for cid in customer_ids:
            self._erased.add(cid)
            self._asked.pop(cid, None)
            if self._states is not None:
                self._states.forget(cid)
            if self._signals is not None:
                self._signals.emit(ConversationChanged(cid))
        if self._signals is not None:
            self._signals.emit(ConversationChanged(None))

    def _committed(self, signal: TurnCommitted) -> None:
        # The engine caches a turn's state after the turn; an erased customer's is dropped.
        if signal.customer_id in self._erased and self._states is not None:
            self._states.forget(signal.customer_id)

    # -- stages ----------------------------------------------------------------------------

    async def redelivered(self, turn: Turn) -> None:
        """Drop a redelivered message of an erased customer (see the module docstring)."""
        if turn.outbox is not None:
            return
        # A redelivery of an erased message makes a new customer: their first turns are
        # checked (first in this process, or while nothing is remembered and no flow runs),
        # not every turn of everyone (one query each on the hot path).
        if not await self._recent_erasures():
            return
        cid = turn.customer_id
        fresh = not turn.state.memory and turn.state.active_run_id is None
        if cid in self._checked and not fresh:
            return
        self._checked[cid] = None
        if len(self._checked) > _CHECKED:
            self._checked.popitem(last=False)
        inbound = turn.inbound
        row = turn.row
        redelivered, stale = await self.db.erased_marks(
            inbound.channel, inbound.message_id, row.identity_id
        )
        if redelivered:
            await self.db.drop_redelivery(row.inbox_id, row.identity_id)
            log.info(
                "inbox %s: a redelivered message of an erased customer, dropped", row.inbox_id
            )
        elif stale:
            # The identity was erased by another process (`baton customer erase`) while this
            # one still had it cached: the message goes to a new customer, not the erased one.
            await self.db.drop_redelivery(row.inbox_id, None)
            self.db.store.forget_identities([cid])
            self._forget((cid,))
            log.info(
                "inbox %s: sent by an identity erased meanwhile; taken in again", row.inbox_id
            )
            if self._engine is not None:
                await self._engine.receive([inbound])
        else:
            return
        turn.flows = False
        turn.outbox = []

    async def intercept(self, turn: Turn) -> None:
        """Answer "forget me", "send me my data" and withdrawals before the flows."""
        inbound = turn.inbound
        if not turn.flows or inbound.control is not None or turn.outbox is not None:
            return
        text = " ".join((inbound.text or "").lower().split()).strip(" .!?")
        cid = turn.customer_id
        until = self._asked.pop(cid, None)
        if until is not None and until >= time.time():
            picked = inbound.choice or (
                (found.value if (found := match_choice(_ERASE_CHOICES, text)) else None)
                if text
                else None
            )
            if picked == texts.ERASE_CHOICE:
                await self._erase_now(turn)
                return
            if picked == texts.ERASE_KEEP_CHOICE:
                self._answer(turn, Prompt(texts.ERASE_CANCELLED))
                return
        if text in texts.ERASE_WORDS:
            self._asked[cid] = time.time() + CONFIRM_SECONDS
            await self.db.audit(
                "erase_asked", actor="customer", customer_id=cid, channel=inbound.channel
            )
            self._answer(turn, Prompt(texts.ERASE_CONFIRM, choices=_ERASE_CHOICES))
        elif text in texts.EXPORT_WORDS:
            self._answer(turn, await self._export_link(turn))
        elif text in texts.WITHDRAW_WORDS:
            purpose = texts.WITHDRAW_WORDS[text]
            assert self._consents is not None
            await self._consents.record(
                cid,
                purpose,
                granted=False,
                source="customer",
                text=inbound.text or text,
                channel=inbound.channel,
            )
            await self.db.audit(
                "consent",
                actor="customer",
                customer_id=cid,
                channel=inbound.channel,
                detail={"purpose": purpose, "granted": False},
            )
            self._answer(turn, Prompt(texts.WITHDRAWN.format(purpose=purpose)))

    async def erased_meanwhile(self, turn: Turn) -> None:
        """A turn whose customer was erased while it ran commits nothing: its message is
        cleared and no reply is sent. (The commit is guarded as well: erasure marks the
        customer's inbox rows handled, and a turn never commits a handled row.)"""
        if turn.outbox is None and turn.customer_id in self._erased:
            await self.db.drop_redelivery(turn.row.inbox_id, None)
            log.info("inbox %s: its customer was erased meanwhile; dropped", turn.row.inbox_id)
            turn.flows = False
            turn.replies.clear()
            turn.outbox = []

    async def record_consents(self, turn: Turn) -> None:
        """Record the consent answers the flows gave this turn (`ctx.consent`)."""
        if turn.outcome is None:
            return
        for prompt in turn.replies:
            given = prompt.meta.get(CONSENT)
            if not isinstance(given, dict):
                continue
            assert self._consents is not None
            await self._consents.record(
                turn.customer_id,
                str(given["purpose"]),
                granted=bool(given["granted"]),
                source="customer",
                text=str(given["text"]),
                channel=turn.inbound.channel,
            )

    def _answer(self, turn: Turn, prompt: Prompt) -> None:
        turn.flows = False
        turn.replies.append(prompt)

    async def _export_link(self, turn: Turn) -> Prompt:
        if not self.public_url:
            return Prompt(texts.EXPORT_NO_URL)
        token = await self.db.new_export_link(
            turn.customer_id, ttl=self.export_minutes * 60, channel=turn.inbound.channel
        )
        url = f"{self.public_url}/privacy/export/{token}"
        return Prompt(texts.EXPORT_LINK.format(minutes=round(self.export_minutes), url=url))

    async def _erase_now(self, turn: Turn) -> None:
        inbound = turn.inbound
        await self.erase(turn.customer_id, actor="customer", channel=inbound.channel)
        # Nothing of the customer stays to commit: the turn is done here, and the goodbye
        # leaves straight through the adapter (not the outbox, which would keep the address).
        turn.flows = False
        turn.outbox = []
        engine = self._engine
        adapter = engine.adapters.get(inbound.channel) if engine is not None else None
        if adapter is None:
            return
        try:
            await adapter.send(
                Address(inbound.channel, inbound.identity, inbound.route),
                adapter.render(Prompt(texts.ERASE_DONE)),
            )
        except Exception as exc:  # the erasure stands; only the goodbye is lost
            log.warning("the goodbye after an erasure was not sent (%s)", type(exc).__name__)
