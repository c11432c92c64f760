"""The flow API as a customer meets it, through the engine and the local web channel."""

from __future__ import annotations

import dataclasses

from dialogs import App, Choice, Command, Context, Invalid, Keyword, flow
from dialogs.validators import email, number
from tests.support.baton import running_baton
from tests.support.webchat import WebChat

calls: list[str] = []


@dataclasses.dataclass(frozen=True)
class Quote:
    amount: float
    currency: str


def make_quote(size: float) -> Quote:
    calls.append(f"quote {size}")
    return Quote(size * 10, "EUR")


@flow(triggers=[Keyword("address")])
async def ask_address(ctx: Context) -> str:
    street = await ctx.ask("Street?")
    city = await ctx.ask("City?")
    return f"{street}, {city}"


@flow(triggers=[Command("buy")])
async def buy(ctx: Context) -> None:
    name = await ctx.ask("Name?", remember="name")
    size = await ctx.ask(f"How many, {name}?", validate=number)
    quote = await ctx.step("quote", make_quote, size)
    address = await ctx.run(ask_address)
    mail = await ctx.ask("E-mail?", validate=email)
    ok = await ctx.ask(
        f"{quote.amount} {quote.currency} to {address}, receipt to {mail}. OK?",
        choices=[Choice("yes", "Yes"), Choice("no", "No")],
    )
    await ctx.say("Ordered!" if ok == "yes" else "Not ordered.")


def shoe_size(text: str) -> int:
    if not text.isdigit() or not 30 <= int(text) <= 50:
        raise Invalid("Sizes go from 30 to 50.")
    return int(text)


@flow(triggers=[Command("shoes")])
async def shoes(ctx: Context) -> None:
    name = await ctx.ask("Name?", remember="name")
    size = await ctx.ask("Shoe size?", validate=shoe_size)
    await ctx.say(f"{name} wears {size}.")


@flow(triggers=[Command("boom")])
async def boom(ctx: Context) -> None:
    await ctx.ask("Ready?")
    raise RuntimeError("a bug in the developer's flow")


app = App(flows=[buy, shoes, boom, ask_address])


async def test_a_whole_flow_with_validation_steps_subflows_and_choices(sqlite_url: str) -> None:
    calls.clear()
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/buy")
        await chat.expect("Name?")
        await chat.send("Ada")
        await chat.expect("How many, Ada?")
        await chat.send("lots")
        await chat.expect("Please answer with a number, like 3 or 2.5.")
        await chat.send("3")
        await chat.expect("Street?")
        await chat.send("Main St 1")
        await chat.expect("City?")
        await chat.send("Utrecht")
        await chat.expect("E-mail?")
        await chat.send("ada@EXAMPLE.com")
        reply = await chat.expect("30 EUR to Main St 1, Utrecht, receipt to ada@example.com. OK?")
        assert reply.choices == (("yes", "Yes"), ("no", "No"))
        await chat.send("maybe")
        await chat.expect("Please pick one of the options.")
        await chat.send("1")
        await chat.expect("Ordered!")
    # The side effect ran once, although the flow was replayed on every later message.
    assert calls == ["quote 3"]


async def test_remembered_answers_are_not_asked_again(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/shoes")
        await chat.expect("Name?")
        await chat.send("Grace")
        await chat.expect("Shoe size?")
        await chat.send("12")
        await chat.expect("Sizes go from 30 to 50.")
        await chat.send("38")
        await chat.expect("Grace wears 38.")
        await chat.send("/buy")
        await chat.expect("How many, Grace?")


async def test_interruptions_work_in_the_middle_of_a_flow(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/shoes")
        await chat.expect("Name?")
        await chat.send("help")
        await chat.next()  # the help text
        await chat.expect("Name?")  # and the question again
        await chat.send("Cancel")
        await chat.expect("OK, I've stopped that. What else can I do for you?")
        await chat.send("Ik wil een medewerker spreken")
        await chat.expect(  # asked in Dutch, answered in Dutch (dialogs.languages)
            "Ik heb een medewerker van ons team gevraagd je te helpen. Die antwoordt hier zo "
            "snel mogelijk; je berichten tot nu toe zijn voor hen bewaard."
        )
        identity = await baton.store.identity("web", chat.identity)
        assert identity is not None
        conversation = await baton.store.conversation(identity[1])
        assert conversation["status"] == "waiting"
        assert conversation["handoff_reason"] == "customer asked for a person"


async def test_a_human_request_mid_flow_keeps_the_flow(sqlite_url: str) -> None:
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/shoes")
        await chat.expect("Name?")
        await chat.send("talk to a human")
        await chat.next()
        await chat.expect("You're next in the queue. The expected wait is about 5 minutes.")
        await chat.send("Linus")  # still an answer to the open question
        await chat.expect("Shoe size?")


async def test_a_broken_flow_apologises_and_the_conversation_goes_on(
    sqlite_url: str, caplog: object
) -> None:
    async with running_baton(sqlite_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/boom")
        await chat.expect("Ready?")
        await chat.send("yes")
        await chat.expect(
            "Sorry, something went wrong on our side. Please try again, or say "
            "'agent' to talk to a person."
        )
        await chat.send("/shoes")
        await chat.expect("Name?")


async def test_a_flow_changed_between_deploys_restarts_instead_of_crashing(
    database_url: str,
) -> None:
    @flow(triggers=[Command("signup")], name="signup")
    async def signup_v1(ctx: Context) -> None:
        await ctx.ask("Your name?")
        await ctx.ask("Your city?")
        await ctx.say("v1 done")

    @flow(triggers=[Command("signup")], name="signup")
    async def signup_v2(ctx: Context) -> None:
        await ctx.ask("Your e-mail?", key="mail")
        await ctx.ask("Your name?")
        await ctx.say("v2 done")

    async with running_baton(database_url, App(flows=[signup_v1])) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/signup")
        await chat.expect("Your name?")
        await chat.send("Ada")
        await chat.expect("Your city?")
    async with running_baton(database_url, App(flows=[signup_v2])) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("Utrecht")
        await chat.expect(
            "We've updated this conversation since your last message, so let's "
            "start this part again."
        )
        await chat.expect("Your e-mail?")
        await chat.send("ada@example.com")
        await chat.expect("Your name?")


async def test_a_flow_continues_after_the_app_restarts(database_url: str) -> None:
    calls.clear()
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/buy")
        await chat.expect("Name?")
        await chat.send("Ada")
        await chat.expect("How many, Ada?")
        await chat.send("2")
        await chat.expect("Street?")
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("Side St 2")
        await chat.expect("City?")
    assert calls == ["quote 2"]


async def test_odd_text_never_crashes_a_conversation(database_url: str) -> None:
    odd = [
        "\x00nul\x00",
        "🙂" * 50,
        "שלום עולם",
        "<img src=x onerror=alert(1)>",
        "x" * 10_000,
        "   ",
        "\u202eevil",
    ]
    async with running_baton(database_url, app) as baton:
        chat = WebChat(baton.engine, baton.web)
        await chat.send("/shoes")
        await chat.expect("Name?")
        await chat.send(odd[0])
        await chat.expect("Shoe size?")
        for text in odd[1:]:
            await chat.send(text)
            await chat.expect(
                "Please answer with a text message."
                if text.isspace()
                else "Sizes go from 30 to 50."
            )
        await chat.send("40")
        await chat.expect("\x00nul\x00 wears 40.")
        identity = await baton.store.identity("web", chat.identity)
        assert identity is not None
        stored = [m.text for m in await baton.store.messages(identity[1]) if m.direction == "in"]
    assert stored == ["/shoes", *odd, "40"]
