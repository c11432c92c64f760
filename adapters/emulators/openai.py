"""An emulator of the OpenAI-compatible chat completions API (`POST /v1/chat/completions`).

The `openai` package (and anything that speaks this API: Ollama, vLLM) works unchanged when
its base URL points here. Answers are scripted: queue them with `answer` (text, or a dict
sent as JSON content for structured output), or give a `responder` that computes one from the
request. Calls are recorded (`calls("chat.completions")`, `await next_call(...)`), with the
messages as sent, so a test can check what left the process (masked personal data, the
passages given); faults come from `fail_next` / `hang_next` as on the other emulators.

Example:
    >>> emu = OpenAIEmulator()
    >>> emu.answer({"answer": "Yes [1]", "citations": ["faq.md#invoice"], "supported": True})
    >>> async with emu.run() as url:
    ...     client = AsyncOpenAI(base_url=url + "/v1", api_key="test")
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from aiohttp import web

from adapters.emulators._recorder import Emulator

__all__ = ["OpenAIEmulator"]

METHOD = "chat.completions"
Responder = Callable[[Mapping[str, Any]], "str | dict[str, Any]"]


class OpenAIEmulator(Emulator):
    """The chat completions API with scripted answers (see the module docstring).

    Args:
        model: the model name answered when a request names none.
        api_key: when set, other bearer tokens get 401.
    """

    channel: ClassVar[str] = "openai"
    _fault_exempt: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, model: str = "emulated-model", api_key: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.api_key = api_key
        self._script: deque[str | dict[str, Any]] = deque()
        self.responder: Responder | None = None
        """Computes the answer of a request when no scripted answer is queued."""
        self._ids = 0

    def answer(self, *contents: str | dict[str, Any]) -> None:
        """Queue answers, one per coming request (a dict is sent as JSON content)."""
        self._script.extend(contents)

    def _setup(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_post("/chat/completions", self._completions)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any]
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            body = {
                "error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}
            }
            self._record(METHOD, {}, 401, body)
            return web.json_response(body, status=401)
        try:
            params = await request.json()
        except ValueError:
            body = {
                "error": {
                    "message": "We could not parse the JSON body",
                    "type": "invalid_request_error",
                }
            }
            self._record(METHOD, {}, 400, body)
            return web.json_response(body, status=400)
        if not isinstance(params, dict) or not isinstance(params.get("messages"), list):
            body = {
                "error": {"message": "'messages' is required", "type": "invalid_request_error"}
            }
            self._record(METHOD, params if isinstance(params, dict) else {}, 400, body)
            return web.json_response(body, status=400)
        fault = self._take_fault(METHOD)
        if fault is not None:
            return await self._apply_fault(fault, METHOD, params)
        if self._script:
            content = self._script.popleft()
        elif self.responder is not None:
            content = self.responder(params)
        else:
            content = "I don't know."
        text = content if isinstance(content, str) else json.dumps(content)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in params["messages"])
        completion_tokens = len(text.split())
        self._ids += 1
        body = {
            "id": f"chatcmpl-emu{self._ids}",
            "object": "chat.completion",
            "created": 1_700_000_000 + self._ids,
            "model": params.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self._record(METHOD, params, 200, body, text=text)
        return web.json_response(body)

    def _fault_response(self, status: int, retry_after: int) -> tuple[web.Response, Any]:
        body = {"error": {"message": f"emulated error {status}", "type": "server_error"}}
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        return web.json_response(body, status=status, headers=headers), body
