"""One customer across channels, through the real SDKs and the platform emulators, on SQLite
and PostgreSQL: linking by proof only (own contact share, one-time codes, deep links), merge
and unlink, continuity mid-question, and the attacks: guessing codes, someone else's contact."""

from __future__ import annotations

import asyncio
import re
import time

from alembic import command
from sqlalchemy import inspect, update

from bot.demo import app as demo_app
from bot.linking import Linking
from bot.testing import ChatScript, chats_on
from dialogs import App, Context, Keyword, flow
from storage import _schema, open_store
from storage.tables import metadata
from tests.console.support import Browser, add_agent
from tests.console.test_migration import baton_migrate

LINKING_TABLES = {"link_codes", "link_throttle", "phone_proofs", "merge_log", "install_secrets"}
TG, SMS, SLACK = "telegram", "twilio", "slack"
PHONE = "+15551230001"
CODE = re.compile(r"(?:Your linking code is|Je koppelcode is) (\d{5}-\d{5})\..*", re.S)
"""The code message in English, or in Dutch for a customer who chose Nederlands."""
WRONG = (
    "That code didn't work. Codes work once, for 10 minutes: say 'link' on your other "
    "channel for a new one."
)


def starts(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text) + ".*", re.S)


async def code_of(chat: ChatScript) -> str:
    await chat.send("link")
    reply = await chat.expect(CODE)
    found = CODE.search(reply.text)
    assert found is not None
    return found.group(1)


async def customer_of(chat: ChatScript) -> int:
    await chat.baton.engine.idle()
    found = await chat.baton.store.identity(chat.channel, chat.identity)
    assert found is not None
    return found[1]


async def test_journey_telegram_contact_share_sms_mid_question_then_slack_by_code(
    database_url: str,
) -> None:
    async with chats_on([TG, SMS, SLACK], demo_app, database_url=database_url) as chats:
        tg, sms, slack = chats[TG], chats[SMS], chats[SLACK]
        await tg.send("where is my order")
        await tg.expect("What's your name?")
        await tg.send("Ada")
        await tg.expect("Thanks, Ada. What's your order number?")

        # Sharing one's own contact (request_contact) proves the number; the open question
        # is asked again.
        await tg.emulator.customer_contact(user_id=4242, phone=PHONE)  # type: ignore[attr-defined]
        await tg.expect(starts("Thanks! Your number is verified"))
        await tg.expect("Thanks, Ada. What's your order number?")

        # The number texts in for the first time: same customer, same question.
        await sms.send("1234 5678")
        await sms.expect("Picking up where we left off on Telegram.")
        reply = await sms.expect(re.compile(r"Order 12345678 is .*What would you like\?.*", re.S))
        assert "1. Track it" in reply.full_text  # buttons became numbered options
        assert "2. Talk to a person" in reply.full_text
        assert await customer_of(sms) == await customer_of(tg)

        # Slack joins by a code asked for on SMS; the open question continues there.
        code = await code_of(sms)
        await slack.send(code)
        await slack.expect("Linked! This chat and your SMS chat are one conversation now.")
        await slack.expect(
            re.compile(r"Order 12345678 is .*What would you like\?.*", re.S),
            choices=["Track it", "Talk to a person"],
        )
        await slack.choose("Track it")
        await slack.expect("Here is your tracking link: https://track.example.com/12345678")

        # One memory: the name told on Telegram is used on Slack, never asked again.
        await slack.send("where is my order")
        await slack.expect("Thanks, Ada. What's your order number?")
        # Answered on Telegram: acknowledged once, buttons again.
        await tg.send("8765 4321")
        await tg.expect("Picking up where we left off on Slack.")
        await tg.expect(
            re.compile(r"Order 87654321 is .*What would you like\?", re.S),
            choices=["Track it", "Talk to a person"],
        )
        await tg.choose("Track it")
        await tg.expect("Here is your tracking link: https://track.example.com/87654321")
        customer = await customer_of(slack)
        assert customer == await customer_of(tg) == await customer_of(sms)
        identities = await slack.baton.engine.feature(Linking).store.identities(customer)
        assert sorted(i["channel"] for i in identities) == [SLACK, TG, SMS]
        log = await slack.baton.engine.feature(Linking).store.merge_log(customer)
        assert [(e["kind"], e["proof"]) for e in log] == [
            ("join", "phone_proof"),
            ("merge", "code"),
        ]
        # Nothing was sent to anyone but the customer's own identities.
        assert not tg.emulator.calls() or all(
            c.recipient in ("4242", None) for c in tg.emulator.calls() if c.text
        )


async def test_contact_share_links_an_existing_sms_customer(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        await sms.send("preferences")
        await sms.expect(starts("Which language do you prefer?"))
        await sms.send("1")
        await sms.expect(starts("When may we contact you?"))
        await tg.send("hi")
        await tg.next_reply()
        before = (await customer_of(tg), await customer_of(sms))
        assert before[0] != before[1]

        await tg.emulator.customer_contact(user_id=4242, phone=PHONE)  # type: ignore[attr-defined]
        await tg.expect(starts("Thanks! Your number is verified: your text messages"))
        assert await customer_of(tg) == await customer_of(sms) == before[0]
        conversation = await tg.conversation()
        assert conversation.memory["language"] == "en"


async def test_someone_elses_contact_proves_nothing(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        await sms.send("hi")
        await sms.next_reply()
        await tg.send("hi")
        await tg.next_reply()
        # A contact card of another user (or of no Telegram user) is not the sender's own.
        await tg.emulator.customer_contact(  # type: ignore[attr-defined]
            user_id=4242, phone=PHONE, contact_user_id=9999
        )
        await tg.emulator.customer_contact(  # type: ignore[attr-defined]
            user_id=4242, phone=PHONE, contact_user_id=None
        )
        await tg.baton.engine.idle()
        assert await customer_of(tg) != await customer_of(sms)
        # ... and the number texting in later does not join the Telegram customer either.
        other = sms.with_customer("+15551230009")
        await other.send("hi")
        await other.next_reply()
        assert await customer_of(other) != await customer_of(tg)
        assert not await tg.baton.engine.feature(Linking).store.merge_log(await customer_of(tg))


async def test_an_old_proof_of_a_recycled_number_does_not_join(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        await tg.emulator.customer_contact(user_id=4242, phone=PHONE)  # type: ignore[attr-defined]
        await tg.expect(starts("Thanks! Your number is verified."))
        proofs = metadata.tables["phone_proofs"]
        await tg.baton.store._runner.run(
            lambda c: c.execute(update(proofs).values(created_at=time.time() - 31 * 86400))
        )
        await sms.send("hi")
        await sms.next_reply()
        assert await customer_of(sms) != await customer_of(tg)


async def test_codes_expire_are_single_use_and_wrong_codes_get_one_answer(
    database_url: str,
) -> None:
    async with chats_on([TG, SMS, SLACK], demo_app, database_url=database_url) as chats:
        tg, sms, slack = chats[TG], chats[SMS], chats[SLACK]
        # An unknown code and a mistyped one get the same words.
        code = await code_of(tg)
        wrong = code[:6] + f"{(int(code[6:]) + 1) % 100_000:05d}"
        await sms.send("00000-00000" if code != "00000-00000" else "11111-11111")
        await sms.expect(WRONG)
        await sms.send(wrong)
        await sms.expect(WRONG)
        # The right one links, once.
        await sms.send(code)
        await sms.expect("Linked! This chat and your Telegram chat are one conversation now.")
        await slack.send(code)
        await slack.expect(WRONG)
        assert await customer_of(slack) != await customer_of(tg)

        # An expired code is as wrong as an unknown one.
        late = await code_of(tg)
        codes = metadata.tables["link_codes"]
        await tg.baton.store._runner.run(
            lambda c: c.execute(update(codes).values(expires_at=time.time() - 1))
        )
        await slack.send(late)
        await slack.expect(WRONG)
        assert await customer_of(slack) != await customer_of(tg)


async def test_brute_force_is_limited_per_identity_and_per_code(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        code = await code_of(tg)
        # Per code: five wrong verifiers for its selector burn it, even from many attackers.
        for n in range(5):
            attacker = sms.with_customer(f"+1555999000{n}")
            guess = code[:6] + f"{(int(code[6:]) + 1 + n) % 100_000:05d}"
            await attacker.send(guess)
            await attacker.expect(WRONG)
        late = sms.with_customer("+15559990009")
        await late.send(code)
        await late.expect(WRONG)
        assert await customer_of(late) != await customer_of(tg)

        # Per identity: five wrong codes, then a cool-down in which even a right code fails.
        fresh = await code_of(tg)
        for n in range(5):
            await sms.send(f"{n:05d}-{n:05d}")
            await sms.expect(WRONG)
        await sms.send(fresh)
        await sms.expect(starts("Too many tries with linking codes"))
        assert await customer_of(sms) != await customer_of(tg)


async def test_deep_link_start_payload_links(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        await sms.send("can you link my telegram?")  # the built-in link_channels flow
        reply = await sms.expect(CODE)
        # The bot's username comes from getMe; tapping the link sends /start <payload>.
        link = re.search(r"https://t\.me/(\w+)\?start=(link-\d{10})", reply.full_text)
        assert link is not None
        assert link.group(1) == "emu_bot"
        await tg.send("/start " + link.group(2))
        await tg.expect("Linked! This chat and your SMS chat are one conversation now.")
        assert await customer_of(tg) == await customer_of(sms)


async def test_baton_migrate_from_0002_to_the_newest(database_url: str) -> None:
    store = await open_store(database_url)
    try:
        await store._runner.run(lambda c: command.upgrade(_schema.config(c), "0002"))
    finally:
        await store.close()
    code, out = await baton_migrate(database_url)
    store = await open_store(database_url)
    try:
        assert await store.schema_status() == (_schema.head(), _schema.head())
        tables = set(await store._runner.run(lambda c: inspect(c).get_table_names()))
        await store._runner.run(lambda c: command.downgrade(_schema.config(c), "0002"))
        after = set(await store._runner.run(lambda c: inspect(c).get_table_names()))
    finally:
        await store.close()
    assert (code, out.strip()) == (0, f"baton: migrated 0002 -> {_schema.head()}")
    assert tables >= LINKING_TABLES
    assert not after & LINKING_TABLES


async def test_merge_and_unlink_keep_every_message(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        await tg.send("hi")
        await tg.next_reply()
        await sms.send("hi")
        await sms.next_reply()
        tg_customer, sms_customer = await customer_of(tg), await customer_of(sms)
        store = tg.baton.store
        before = {c: [m.id for m in await store.messages(c)] for c in (tg_customer, sms_customer)}
        code = await code_of(tg)
        await sms.send(code)
        await sms.expect(starts("Linked!"))
        await sms.expect(starts("Hi! I'm the Baton demo bot."))  # the open question again
        merged = await customer_of(sms)
        assert merged == await customer_of(tg)
        await sms.send("hours")
        await sms.next_reply()
        everything = [m.id for m in await store.messages(merged)]
        assert set(before[tg_customer]) | set(before[sms_customer]) <= set(everything)
        assert everything == sorted(everything)  # one history, in time order

        identity = await store.identity(SMS, sms.identity)
        assert identity is not None
        unlinked = await tg.baton.engine.feature(Linking).unlink(
            identity[0], actor="admin@example.com"
        )
        assert unlinked is not None
        left, gone = (
            [m.id for m in await store.messages(unlinked.customer_id)],
            [m.id for m in await store.messages(unlinked.new_customer_id)],
        )
        assert sorted(left + gone) == everything  # every message kept, none twice
        assert set(before[sms_customer]) <= set(gone)  # what came with SMS went back
        assert set(before[tg_customer]) <= set(left)
        sms_rows = await store._runner.run(
            lambda c: list(
                c.execute(
                    metadata.tables["messages"]
                    .select()
                    .where(metadata.tables["messages"].c.identity_id == identity[0])
                ).mappings()
            )
        )
        assert {r["customer_id"] for r in sms_rows} == {unlinked.new_customer_id}
        # Two customers again: the SMS customer writes on its own line.
        await sms.send("hi")
        await sms.next_reply()
        assert await customer_of(sms) == unlinked.new_customer_id != await customer_of(tg)
        log = await tg.baton.engine.feature(Linking).store.merge_log(unlinked.customer_id)
        assert [e["kind"] for e in log] == ["merge", "unlink"]


_order: list[str] = []
_gates: list[asyncio.Event] = []


async def _hold(text: str) -> str:
    if text == "first":
        await _gates[-1].wait()  # the first message is still being handled when the second lands
    _order.append(text)
    return text


@flow(triggers=[Keyword("first", "second")])
async def record(ctx: Context) -> None:
    text = await ctx.step("hold", _hold, ctx.trigger.text or "")
    await ctx.say(f"done {text}")


async def test_linked_identities_writing_at_once_are_handled_in_order(database_url: str) -> None:
    _order.clear()
    _gates.append(asyncio.Event())
    async with chats_on([TG, SMS], App(flows=[record]), database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        code = await code_of(tg)
        await sms.send(code)
        await sms.expect(starts("Linked!"))
        await tg.send("first")
        await sms.send("second")
        _gates[-1].set()
        await tg.expect("done first")
        await sms.expect("done second")
    assert _order == ["first", "second"]


async def test_admins_link_and_unlink_through_the_api(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        await tg.send("hi")
        await tg.next_reply()
        await sms.send("hi")
        await sms.next_reply()
        await customer_of(sms)
        store = tg.baton.store
        a, b = await store.identity(TG, tg.identity), await store.identity(SMS, sms.identity)
        assert a is not None
        assert b is not None
        await add_agent(tg.baton, "boss@example.com", "Boss", role="admin")
        await add_agent(tg.baton, "alan@example.com", "Alan")
        async with Browser(tg.baton) as boss, Browser(tg.baton) as alan:
            await boss.login("boss@example.com")
            await alan.login("alan@example.com")
            pair = {"identity_a": a[0], "identity_b": b[0]}
            forbidden = await alan.post("/api/identities/link", pair)
            linked = await boss.post("/api/identities/link", pair)
            same = await customer_of(tg) == await customer_of(sms)
            unknown = await boss.post(
                "/api/identities/link", {"identity_a": a[0], "identity_b": 999}
            )
            unlinked = await boss.post(f"/api/identities/{b[0]}/unlink")
            again = await boss.post(f"/api/identities/{b[0]}/unlink")
        apart = await customer_of(tg) != await customer_of(sms)
    assert forbidden[0] == 403
    assert linked == (200, {"customer_id": a[1], "merge_log_id": linked[1]["merge_log_id"]})
    assert same
    assert unknown[0] == 404
    assert unlinked[0] == 200
    assert again[0] == 409
    assert apart


async def test_a_merge_while_the_other_customer_is_mid_turn_keeps_their_order(
    database_url: str,
) -> None:
    _order.clear()
    _gates.append(asyncio.Event())
    async with chats_on([TG, SMS], App(flows=[record]), database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        code = await code_of(tg)
        telegram_customer = await customer_of(tg)
        await tg.send("first")  # in flight on the Telegram customer's lane
        await tg.send("second")  # queued behind it
        await sms.send(code)  # the SMS customer absorbs the Telegram one meanwhile
        await sms.expect(starts("Linked!"))
        await sms.send("second")  # must still wait for the Telegram messages
        _gates[-1].set()
        await tg.expect("done first")
        await tg.expect("done second")
        await sms.expect("done second")
        merged = await customer_of(sms)
        assert await customer_of(tg) == merged != telegram_customer
        assert await tg.baton.store.messages(telegram_customer) == []
        texts = [m.text for m in await tg.baton.store.messages(merged, limit=1000)]
    assert _order == ["first", "second", "second"]
    assert texts.index("done first") < texts.index("done second")


async def test_merge_keeps_the_newest_memory_and_an_open_handoff(database_url: str) -> None:
    async with chats_on([TG, SMS], demo_app, database_url=database_url) as chats:
        tg, sms = chats[TG], chats[SMS]
        for chat, language in ((tg, "English"), (sms, "Nederlands")):
            await chat.send("preferences")
            await chat.expect(starts("Which language do you prefer?"))
            await chat.choose(language)
            await chat.expect(starts("When may we contact you?"))
            await chat.choose("Morning")
            await chat.next_reply()
        await sms.send("agent")  # the SMS customer waits for a person
        await sms.read_all()
        assert (await sms.conversation()).status == "waiting"
        code = await code_of(sms)
        await tg.send(code)  # the Telegram customer (older, less recent) keeps its id
        # The merged memory is the newest (the SMS customer chose Nederlands): Dutch from now on.
        await tg.expect(starts("Gekoppeld!"))
        conversation = await tg.conversation()
        log = await tg.baton.engine.feature(Linking).store.merge_log(await customer_of(tg))
    assert conversation.status == "waiting"  # the open handoff is kept
    assert conversation.memory["language"] == "nl"  # the newest value wins ...
    assert log[-1]["moved"]["customer"]["memory_conflicts"] == {"language": "en"}  # ... noted
