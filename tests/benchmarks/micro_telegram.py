"""CPU per Telegram send and per webhook update, measured on the adapter alone.

Not a test (pytest does not collect it). Run with

    python -m tests.benchmarks.micro_telegram [--sends 3000] [--updates 3000] [--rounds 5]

- sends: `TelegramAdapter.send` of a plain text prompt (and of one with an inline keyboard)
  against the project's Telegram emulator, which runs in a child process so its CPU is not
  counted. Figure: `time.process_time()` of this process per send, after a warm-up.
- webhook: the real `POST /webhooks/telegram` handler, called with an aiohttp mocked request
  carrying a customer's text update (secret check, JSON read, Update parsing, normalising,
  a sink that stores nothing). Figure: `time.process_time()` per update.

Each figure is the median over the rounds; the machine may be busy, so compare medians.

`--baseline FILE` also loads another version of `adapters/telegram/adapter.py` (e.g. the
committed one: `git show HEAD:adapters/telegram/adapter.py > /tmp/telegram_before.py`) and
alternates rounds of the two, so both see the same background load.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any
from unittest import mock

from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

import adapters.telegram
from adapters.base import Address, DeliveryUpdate, Inbound
from adapters.emulators import TelegramEmulator, update_payload
from adapters.telegram import PATH
from dialogs.prompts import Choice, Prompt

TOKEN = "123456:BENCH-token"
SECRET = "bench-secret"
USER = 4242


async def _serve_emulator() -> None:
    emu = TelegramEmulator(TOKEN)
    runner, url = await emu.serve()
    print(url, flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()


Round = Callable[[], Awaitable[float]]
"""One measured round: CPU microseconds per operation."""


async def _sends(module: ModuleType, api: str, prompt: Prompt, count: int) -> tuple[Round, Any]:
    adapter = module.TelegramAdapter(TOKEN, secret=SECRET, api_base=api)
    to = Address("telegram", str(USER), route=str(USER))
    rendered = adapter.render(prompt)
    for _ in range(300):  # warm-up: connections, schema caches
        await adapter.send(to, rendered)

    async def measure() -> float:
        start = time.process_time()
        for _ in range(count):
            await adapter.send(to, rendered)
        return (time.process_time() - start) / count * 1e6

    return measure, adapter


class _Sink:
    async def receive(self, messages: Sequence[Inbound]) -> list[bool]:
        return [True] * len(messages)

    async def delivery_status(self, update: DeliveryUpdate) -> None:
        return None


def _request(body: bytes) -> web.Request:
    protocol = mock.Mock(_reading_paused=False)
    payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(body)
    payload.feed_eof()
    return make_mocked_request(
        "POST",
        PATH,
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": SECRET,
            "Content-Length": str(len(body)),
        },
        payload=payload,
    )


async def _webhook(module: ModuleType, count: int) -> tuple[Round, Any]:
    adapter = module.TelegramAdapter(TOKEN, secret=SECRET, api_base="http://127.0.0.1:9")
    (route,) = adapter.routes(_Sink())
    handler: Any = route.handler
    bodies = [
        json.dumps(update_payload(1000 + i, user_id=USER, text=f"where is order {i}?")).encode()
        for i in range(count)
    ]
    for body in bodies[:300]:
        response = await handler(_request(body))
        assert response.status == 200, response

    async def measure() -> float:
        requests = [_request(body) for body in bodies]
        start = time.process_time()
        for request in requests:
            await handler(request)
        return (time.process_time() - start) / count * 1e6

    return measure, adapter


def _show(name: str, figures: list[float]) -> None:
    shown = ", ".join(f"{f:.0f}" for f in figures)
    print(f"{name:<36} median {statistics.median(figures):6.0f} us CPU   (rounds: {shown})")


def _load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("telegram_baseline", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _compare(
    name: str, variants: dict[str, Callable[[ModuleType], Awaitable[tuple[Round, Any]]]]
) -> None:
    """Rounds of each variant, alternating, so that they share the machine's load."""
    rounds: dict[str, Round] = {}
    adapters_: list[Any] = []
    figures: dict[str, list[float]] = {}
    try:
        for label, setup in variants.items():
            module = _MODULES[label]
            rounds[label], adapter = await setup(module)
            adapters_.append(adapter)
            figures[label] = []
        for _ in range(_ROUNDS[0]):
            for label, measure in rounds.items():
                figures[label].append(await measure())
    finally:
        for adapter in adapters_:
            await adapter.aclose()
    for label, values in figures.items():
        _show(f"{name} [{label}]", values)


_MODULES: dict[str, ModuleType] = {}
_ROUNDS = [5]


async def _main(args: argparse.Namespace) -> None:
    _ROUNDS[0] = args.rounds
    if args.baseline:
        _MODULES["baseline"] = _load(args.baseline)
    _MODULES["current"] = adapters.telegram
    child = subprocess.Popen(  # noqa: ASYNC220 - once, before anything is measured
        [sys.executable, "-m", "tests.benchmarks.micro_telegram", "--emulator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        api = child.stdout.readline().strip()
        plain = Prompt("Your order #1234 left the warehouse today and arrives tomorrow.")
        buttons = Prompt(
            "What can I help you with?",
            choices=(Choice("order", "Where is my order?"), Choice("agent", "Talk to a person")),
        )
        for name, prompt in (("send, plain text", plain), ("send, inline keyboard", buttons)):
            await _compare(
                name,
                {
                    label: lambda m, p=prompt: _sends(m, api, p, args.sends)  # type: ignore[misc]
                    for label in _MODULES
                },
            )
        await _compare(
            "webhook, text update",
            {label: lambda m: _webhook(m, args.updates) for label in _MODULES},
        )
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="another adapters/telegram/adapter.py to compare with")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emulator:
        asyncio.run(_serve_emulator())
    else:
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
