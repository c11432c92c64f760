"""The proactive feature: `engine.notify`, the send gate (throttles and the last consent
check) and the campaign runner.

Installed in every engine (`bot.assembly.default_features`). The channel rule, the purposes'
consent rule and the record are `storage.proactive`'s; this module holds the rules of input
(`make_prompt`), the throttles (`bot.proactive.throttle`) and the background work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.engine.signals import ConversationChanged
from bot.proactive.errors import BadMessage, UnknownCustomer
from bot.proactive.throttle import Limiter, Rate
from dialogs.prompts import Choice, Prompt
from storage import OutboxRow
from storage.campaigns import CampaignStore
from storage.consents import check_purpose
from storage.proactive import ProactiveRecord, Target
from storage.vocabulary import Author

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.engine.builder import EngineBuilder
    from bot.settings import Settings

log = logging.getLogger("baton.proactive")

__all__ = ["MAX_CHOICES", "MAX_TEXT", "Proactive", "ProactiveConfig", "make_prompt"]

MAX_TEXT = 4000
"""The longest proactive text (SMS splits it in parts; Telegram takes 4096)."""
MAX_CHOICES = 10
MAX_LABEL = 64
_LEASE = 30.0
"""Seconds a process drives a campaign before another may take it over."""
_IDLE_POLL = 1.0
_BUSY_POLL = 0.1
IN_FLIGHT = 16
"""Proactive sends per channel between the platform call and the record of its outcome. A
kill can leave only these uncertain (see `storage.proactive.recheck`)."""


@dataclass(frozen=True, slots=True)
class ProactiveConfig:
    """The purposes and the channels' limits (from `Settings`)."""

    purposes: tuple[str, ...] = ("service", "marketing", "surveys")
    rates: Mapping[str, Rate] = field(
        default_factory=lambda: {
            "telegram": Rate(overall=30.0, per_key=1.0),
            "twilio": Rate(overall=1.0),
            "slack": Rate(per_key=1.0),
        }
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> ProactiveConfig:
        """The configuration `BATON_PURPOSES` and the `BATON_*_RATE` settings describe."""
        return cls(
            purposes=tuple(settings.purpose_names),
            rates={
                "telegram": Rate(
                    overall=settings.telegram_rate, per_key=settings.telegram_chat_rate
                ),
                # One sending number (BATON_TWILIO_FROM): its rate is the channel's.
                "twilio": Rate(overall=settings.twilio_rate),
                "slack": Rate(per_key=settings.slack_channel_rate),
            },
        )

    def window(self, channel: str) -> int:
        """How many of a campaign's messages may wait in the outbox per channel: two
        seconds' worth at the channel's rate, at least 10; 200 where no overall limit."""
        rate = self.rates.get(channel)
        if rate is None or rate.overall is None:
            return 200
        return max(10, int(rate.overall * 2))


def make_prompt(message: str | Prompt, *, choices: Iterable[object] = ()) -> dict[str, Any]:
    """The prompt JSON of a proactive message; BadMessage says what is wrong with it.

    `choices` are labels, `Choice`s or [value, label] pairs (as a `Prompt`'s choices)."""
    prompt = message if isinstance(message, Prompt) else Prompt(str(message))
    text = prompt.text.strip()
    if not text:
        raise BadMessage("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise BadMessage(f"text is longer than {MAX_TEXT} characters ({len(text)})")
    made: list[Choice] = list(prompt.choices)
    for item in choices:
        if isinstance(item, Choice):
            made.append(item)
        elif isinstance(item, str):
            made.append(Choice(item.strip(), item.strip()))
        elif (
            isinstance(item, list | tuple)
            and len(item) == 2
            and all(isinstance(v, str) for v in item)
        ):
            made.append(Choice(str(item[0]).strip(), str(item[1]).strip()))
        else:
            raise BadMessage("each choice is a label or a [value, label] pair of strings")
    if len(made) > MAX_CHOICES:
        raise BadMessage(f"at most {MAX_CHOICES} choices")
    for choice in made:
        if not choice.value or not choice.label or len(choice.label) > MAX_LABEL:
            raise BadMessage(f"a choice needs a value and a label of 1-{MAX_LABEL} characters")
    if len({c.value for c in made}) != len(made):
        raise BadMessage("two choices have the same value")
    return Prompt(text, tuple(made), prompt.media, prompt.meta).to_json()


class Proactive:
    """The engine feature: see the module."""

    def __init__(self, config: ProactiveConfig | None = None, *, campaigns: bool = True) -> None:
        self.config = config or ProactiveConfig()
        self.drives_campaigns = campaigns
        """Whether this engine queues campaign messages (not `baton shell`, which serves only
        the terminal: it would find no channel for anyone)."""
        self._limiters = {name: Limiter(rate) for name, rate in self.config.rates.items()}
        self._in_flight: dict[str, asyncio.Semaphore] = {}
        self._holding: set[int] = set()
        """Outbox rows holding a place of `_in_flight` (until `settled`)."""
        self._engine: Engine | None = None
        self._db: CampaignStore | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stepped = asyncio.Condition()

    # -- the feature ---------------------------------------------------------------------------

    def install(self, builder: EngineBuilder) -> None:
        """See every outbox row before it leaves (only proactive ones are held)."""
        builder.gate(self)
        self._db = CampaignStore(builder.store)

    async def start(self, engine: Engine) -> None:
        """Drive the running campaigns (resuming those a previous run left)."""
        self._engine = engine
        if not self.drives_campaigns:
            return
        self._task = asyncio.get_running_loop().create_task(
            self._campaigns(), name="baton-campaigns"
        )

    async def stop(self) -> None:
        """Stop queueing campaign messages (what is queued stays in the outbox)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def db(self) -> CampaignStore:
        """The proactive messages' storage."""
        if self._db is None:
            raise RuntimeError("the proactive feature is not installed in an engine")
        return self._db

    @property
    def channels(self) -> list[str]:
        """The channels this Baton sends on."""
        if self._engine is None:
            raise RuntimeError("the engine has not started")
        return list(self._engine.adapters)

    # -- sending -------------------------------------------------------------------------------

    def check_purpose(self, purpose: str) -> str:
        """`purpose` if it is one of the configured purposes; BadMessage otherwise."""
        try:
            check_purpose(purpose)
        except ValueError as exc:
            raise BadMessage(str(exc)) from None
        if purpose not in self.config.purposes:
            raise BadMessage(
                f"unknown purpose {purpose!r}: use one of {', '.join(self.config.purposes)} "
                "(BATON_PURPOSES lists them)"
            )
        return purpose

    async def notify(
        self,
        customer_id: int,
        message: str | Prompt,
        *,
        purpose: str = "service",
        choices: Iterable[object] = (),
        source: str = "engine",
        actor: str | None = None,
        agent: tuple[int, str] | None = None,
    ) -> ProactiveRecord:
        """Send `message` to the customer on the channel the rule picks (see
        `storage.proactive`), through the outbox; or record why it was skipped.

        Raises:
            UnknownCustomer: no customer has this id.
            BadMessage: empty or huge text, bad choices, an unknown purpose.
        """
        prompt = make_prompt(message, choices=choices)
        self.check_purpose(purpose)
        extra = None if agent is None else {"agent_id": agent[0], "agent_name": agent[1]}
        try:
            record, rows = await self.db.send(
                customer_id,
                prompt,
                purpose=purpose,
                channels=self.channels,
                source=source,
                actor=actor,
                author=Author.AGENT if agent is not None else Author.BOT,
                extra=extra,
            )
        except LookupError:
            raise UnknownCustomer(customer_id) from None
        if record.status == "skipped":
            log.info(
                "proactive %s to customer %s skipped: %s",
                record.id,
                customer_id,
                record.reason_code,
            )
        self._send(customer_id, rows)
        return record

    def _send(self, customer_id: int, rows: list[OutboxRow]) -> None:
        assert self._engine is not None
        if rows:
            self._engine.outbox.enqueue(rows)
        self._engine.signals.emit(ConversationChanged(customer_id))

    # -- the send gate -------------------------------------------------------------------------

    async def admit(self, row: OutboxRow) -> str | None:
        """Hold a proactive row for its channel's slot, then check it may still leave."""
        marker = row.payload.get("proactive")
        if not isinstance(marker, Mapping):
            return None  # a reply: neither throttled nor re-checked here
        places = self._in_flight.get(row.channel)
        if places is None:
            places = self._in_flight[row.channel] = asyncio.Semaphore(IN_FLIGHT)
        await places.acquire()
        try:
            limiter = self._limiters.get(row.channel)
            if limiter is not None:
                await limiter.acquire(row.route or row.external_id)
            skip = await self.db.recheck(int(marker["id"]), row, str(marker["purpose"]))
        except BaseException:
            places.release()
            raise
        if skip is not None:
            places.release()
            return skip.reason
        self._holding.add(row.id)
        return None

    def settled(self, row: OutboxRow) -> None:
        """The attempt's outcome is recorded: its place is free."""
        if row.id in self._holding:
            self._holding.discard(row.id)
            self._in_flight[row.channel].release()

    def rate_limited(self, row: OutboxRow, retry_after: float) -> None:
        """A 429: the channel's proactive sends pause for the time asked."""
        limiter = self._limiters.get(row.channel)
        if limiter is not None:
            log.info("%s asked to wait %.1fs; proactive sends pause", row.channel, retry_after)
            limiter.pause(retry_after)

    # -- campaigns -----------------------------------------------------------------------------

    async def create_campaign(
        self,
        *,
        name: str,
        message: str | Prompt | None = None,
        purpose: str,
        segment: Mapping[str, Any],
        choices: Iterable[object] = (),
        actor: str | None = None,
        flow: str | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> tuple[int | None, int]:
        """Select the segment and start sending; (campaign id, recipients). A segment that
        selects nobody starts nothing: (None, 0).

        With `flow` (and its `args`) instead of `message`, each recipient the channel rule
        allows gets the flow started (`engine.start_flow`, keyed
        "campaign:{id}:customer:{customer id}", so a restart never starts it twice)."""
        if flow is not None:
            if message is not None or tuple(choices):
                raise BadMessage("a campaign sends a text or starts a flow, not both")
            prompt = self.flow_payload(flow, args or {})
        elif message is None:
            raise BadMessage("a campaign needs a text or a flow")
        else:
            prompt = make_prompt(message, choices=choices)
        self.check_purpose(purpose)
        found = await self.db.create_campaign(
            name=name,
            purpose=purpose,
            prompt=prompt,
            segment=segment,
            channels=self.channels,
            actor=actor,
        )
        self._wake.set()
        return found

    def flow_payload(self, flow: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The payload of a flow campaign; BadMessage for an unknown flow or bad args."""
        if self._engine is None:
            raise RuntimeError("the engine has not started")
        if self._engine.app.get(flow) is None:
            raise BadMessage(f"no flow named {flow!r} is registered in the App")
        try:
            json.dumps(dict(args))
        except (TypeError, ValueError):
            raise BadMessage("args must be JSON values") from None
        return {"flow": flow, "args": dict(args)}

    async def finished(self, campaign_id: int) -> dict[str, Any]:
        """Wait until every recipient of the campaign is queued or skipped and this process
        has sent what it queued (tests, `baton campaign --wait` in-process); its progress."""
        assert self._engine is not None
        while True:
            found = await self.db.campaign(campaign_id)
            if found is None:
                raise LookupError(f"no campaign {campaign_id}")
            if found["status"] != "running":
                await self._engine.idle()
                return await self.db.campaign(campaign_id) or found
            self._wake.set()
            async with self._stepped:
                await self._stepped.wait()

    async def _campaigns(self) -> None:
        while True:
            running = False
            try:
                for campaign in await self.db.claim_campaigns(_LEASE):
                    running = await self._step(campaign) or running
            except Exception:
                log.exception("campaigns: a step failed; trying again")
                running = False
            self._wake.clear()
            async with self._stepped:
                self._stepped.notify_all()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_BUSY_POLL if running else _IDLE_POLL):
                    await self._wake.wait()

    async def _step(self, campaign: Mapping[str, Any]) -> bool:
        """Queue what fits in each channel's window; whether recipients are still pending."""
        assert self._engine is not None
        campaign_id = int(campaign["id"])
        waiting = await self.db.in_flight(campaign_id)
        room: dict[str | None, int] = {}
        for channel in await self.db.pending_channels(campaign_id):
            if channel is None or channel not in self._engine.adapters:
                room[channel] = 500  # skipped, or decided anew on a channel served now
            else:
                room[channel] = self.config.window(channel) - waiting.get(channel, 0)
        if not room:
            rows, decided, left = await self.db.queue_recipients(campaign, {}, self.channels)
            return left
        starts: list[tuple[int, int, Target]] = []
        rows, decided, left = await self.db.queue_recipients(campaign, room, self.channels, starts)
        if rows:
            self._engine.outbox.enqueue(rows)
        if starts:
            await self._start_flows(campaign, starts)
            left = bool(await self.db.pending_channels(campaign_id))
            if not left:
                await self.db.finish_campaign(campaign_id)
        if decided:
            log.debug("campaign %s: %d recipients decided", campaign_id, decided)
        if not left:
            log.info("campaign %s: every recipient is queued or skipped", campaign_id)
        return left

    async def _start_flows(
        self, campaign: Mapping[str, Any], starts: list[tuple[int, int, Target]]
    ) -> None:
        """Start a flow campaign's flow for each recipient, at the channel's proactive rate;
        the key makes a start after a kill (the row still pending) a no-op."""
        assert self._engine is not None
        campaign_id = int(campaign["id"])
        flow = str(campaign["payload"]["flow"])
        args = dict(campaign["payload"].get("args") or {})
        for row_id, customer_id, target in starts:
            limiter = self._limiters.get(target.channel)
            if limiter is not None:
                await limiter.acquire(target.route or target.external_id)
            try:
                await self._engine.start_flow(
                    customer_id,
                    flow,
                    key=f"campaign:{campaign_id}:customer:{customer_id}",
                    **args,
                )
            except LookupError:
                log.warning("campaign %s: flow %r is not registered", campaign_id, flow)
                await self.db.skip_recipient(row_id, "no_flow", flow=flow)
                continue
            await self.db.mark_started(row_id, target)
