"""An optional LLM (`pip install 'baton[llm]'`): any OpenAI-compatible chat completions
server (OpenAI, a local Ollama or vLLM) through the `openai` package, with a base URL.

Example:
    >>> llm = LLM(base_url="http://127.0.0.1:11434/v1", model="llama3.1")
    >>> @flow(triggers=[Command("ask")])
    ... async def ask(ctx: Context) -> None:
    ...     question = await ctx.ask("What would you like to know?")
    ...     await grounded_answer(ctx, llm, kb, question)

Every call made from a flow is journaled like `ctx.step`: a replay (the customer's next
message, a restart) reads the recorded result and never calls the model again, so a restart
never pays twice. Each result records the model, the tokens in and out, the cost (from the
prices given), the attempts and the seconds it took. Calls time out (`timeout`) and are
retried (`retries`) on timeouts, 429 and 5xx. Phone numbers and e-mail addresses are masked
("[phone]", "[email]") before anything leaves the process, unless `mask_personal_data=False`.

What it is used for:

- `grounded_answer`: retrieval first (the knowledge base's passages); with weak retrieval the
  model is not asked at all. The model must answer from the passages and cite them; an answer
  that cites none of them, or says it is unsupported, is not sent: the customer is offered a
  person instead.
- `extract`: slots from a message, as structured output (JSON schema).
- `LLMClassifier`: intents, as a `dialogs.intents.Classifier` for the understanding feature.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dialogs import knowledge_texts as texts
from dialogs.intents import Guess

if TYPE_CHECKING:
    from dialogs.context import Context
    from dialogs.knowledge import KnowledgeBase

log = logging.getLogger("baton.llm")

__all__ = ["LLM", "LLMClassifier", "LLMError", "extract", "grounded_answer", "mask"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s().-]?\d){6,14}(?!\w)")


def mask(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced by "[email]" and "[phone]".

    Example:
        >>> mask("call +31 6 1234 5678 or mail ada@example.com")
        'call [phone] or mail [email]'
    """
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


class LLMError(Exception):
    """The model could not be reached or answered nonsense, after the retries."""


@dataclass(frozen=True, slots=True)
class LLM:
    """An OpenAI-compatible chat model.

    Args:
        base_url: the API's base URL, e.g. "https://api.openai.com/v1" or a local server's.
        model: the model name.
        api_key: the key (local servers take any).
        timeout: seconds one attempt may take.
        retries: further attempts after a timeout, a 429 or a 5xx.
        mask_personal_data: mask phone numbers and e-mail addresses before sending.
        price_in: the price of a million prompt tokens (for the recorded cost).
        price_out: the price of a million completion tokens.
    """

    base_url: str
    model: str
    api_key: str = "not-needed"
    timeout: float = 20.0
    retries: int = 2
    mask_personal_data: bool = True
    price_in: float = 0.0
    price_out: float = 0.0

    async def chat(
        self, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One chat completion, as a JSON-ready record (what flows journal).

        Returns {"content", "data" (the parsed JSON with `schema`), "model", "tokens_in",
        "tokens_out", "cost", "attempts", "seconds"}; raises `LLMError` after the retries.
        """
        try:
            import openai
        except ImportError:  # pragma: no cover - depends on the install
            raise LLMError("the LLM needs the openai package: pip install 'baton[llm]'") from None
        sent = [
            {
                "role": m["role"],
                "content": mask(m["content"]) if self.mask_personal_data else m["content"],
            }
            for m in messages
        ]
        options: dict[str, Any] = {}
        if schema is not None:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(schema), "strict": True},
            }
        client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        )
        started = time.monotonic()
        last: Exception | None = None
        try:
            for attempt in range(1, self.retries + 2):
                try:
                    response = await client.chat.completions.create(
                        model=self.model,
                        messages=sent,  # type: ignore[arg-type]
                        **options,
                    )
                except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                    last = exc
                    continue
                except openai.APIStatusError as exc:
                    last = exc
                    if exc.status_code == 429 or exc.status_code >= 500:
                        continue
                    raise LLMError(f"the model refused the call: {exc.status_code}") from exc
                return self._record(response, schema, attempt, time.monotonic() - started)
        finally:
            await client.close()
        raise LLMError(f"the model did not answer after {self.retries + 1} attempts: {last}")

    def _record(
        self, response: Any, schema: Mapping[str, Any] | None, attempts: int, seconds: float
    ) -> dict[str, Any]:
        content = response.choices[0].message.content or "" if response.choices else ""
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage is not None else 0
        tokens_out = usage.completion_tokens if usage is not None else 0
        data = None
        if schema is not None:
            try:
                data = json.loads(content)
            except ValueError:
                data = None
        record = {
            "content": content,
            "data": data,
            "model": response.model,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "cost": round((tokens_in * self.price_in + tokens_out * self.price_out) / 1e6, 6),
            "attempts": attempts,
            "seconds": round(seconds, 3),
        }
        log.info(
            "llm call: model=%s tokens_in=%d tokens_out=%d cost=%s attempts=%d seconds=%.3f",
            record["model"],
            tokens_in,
            tokens_out,
            record["cost"],
            attempts,
            seconds,
        )
        return record

    async def journaled(
        self,
        ctx: Context,
        name: str,
        messages: list[dict[str, str]],
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """`chat` as a step of the flow: a replay returns the recorded result. A failure is
        journaled too ({"error": ...}), so a replay does not try again either."""
        return await ctx.step(name, _call, self, messages, dict(schema) if schema else None)


async def _call(
    llm: LLM, messages: list[dict[str, str]], schema: dict[str, Any] | None
) -> dict[str, Any]:
    try:
        return await llm.chat(messages, schema)
    except LLMError as exc:
        log.warning("llm call failed: %s", exc)
        return {"error": str(exc), "data": None, "content": ""}


_GROUNDED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "citations": {"type": "array", "items": {"type": "string"}},
        "supported": {"type": "boolean"},
    },
    "required": ["answer", "citations", "supported"],
    "additionalProperties": False,
}
_GROUNDED_SYSTEM = (
    "You answer a customer's question for a company, using ONLY the passages given. Cite the "
    "ids of the passages your answer is based on in `citations`. If the passages do not answer "
    "the question, set `supported` to false and leave `answer` empty. Never guess. Answer in "
    "the language with code '{language}', in at most three sentences."
)


async def grounded_answer(
    ctx: Context, llm: LLM, kb: KnowledgeBase, question: str | None = None, *, passages: int = 3
) -> bool:
    """Answer from `kb` with the model, citing passages; on weak retrieval or an unsupported
    answer nothing is sent but the offer of a person (or to rephrase). Returns whether an
    answer was sent.

    Example:
        >>> await grounded_answer(ctx, llm, kb, "can I pay later?")
    """
    from dialogs.knowledge import offer_help

    asked = question if question is not None else (ctx.trigger.text or "")
    for attempt in range(2):
        searched = mask(asked).replace("[email]", " ").replace("[phone]", " ")
        found = await ctx.step("knowledge: retrieve", kb.retrieve, searched, passages)
        if found and await _answer(ctx, llm, asked, found):
            return True
        if attempt:
            break
        again = await offer_help(ctx)
        if again is None:
            return False
        asked = again
    await offer_help(ctx, last=True)
    return False


async def _answer(ctx: Context, llm: LLM, question: str, found: list[dict[str, Any]]) -> bool:
    given = "\n\n".join(f"[{p['id']}] {p['title']}\n{p['text']}" for p in found)
    messages = [
        {"role": "system", "content": _GROUNDED_SYSTEM.format(language=ctx.language)},
        {"role": "user", "content": f"Passages:\n\n{given}\n\nQuestion: {question}"},
    ]
    result = await llm.journaled(ctx, "llm: grounded answer", messages, _GROUNDED_SCHEMA)
    data = result.get("data")
    if not isinstance(data, dict):
        return False
    by_id = {p["id"]: p for p in found}
    cited = [by_id[c] for c in data.get("citations") or () if c in by_id]
    answer = str(data.get("answer") or "").strip()
    if not data.get("supported") or not cited or not answer:
        log.info("customer %s: an unsupported model answer was not sent", ctx.customer_id)
        return False
    sources = ", ".join(dict.fromkeys(p["source"] for p in cited))
    await ctx.say(texts.ANSWER.format(answer=answer, source=sources))
    return True


async def extract(
    ctx: Context, llm: LLM, text: str, fields: Mapping[str, str], *, name: str = "llm: extract"
) -> dict[str, str | None]:
    """Slots from `text` as structured output: each of `fields` (name: what it is) or None.

    Example:
        >>> slots = await extract(ctx, llm, ctx.trigger.text or "",
        ...                       {"order_number": "the 8-digit order number"})
    """
    schema = {
        "type": "object",
        "properties": {
            k: {"type": ["string", "null"], "description": v} for k, v in fields.items()
        },
        "required": list(fields),
        "additionalProperties": False,
    }
    messages = [
        {
            "role": "system",
            "content": "Extract the fields from the customer's message. Use null for a field "
            "the message does not state. Never invent values.",
        },
        {"role": "user", "content": text},
    ]
    result = await llm.journaled(ctx, name, messages, schema)
    data = result.get("data")
    if not isinstance(data, dict):
        return dict.fromkeys(fields)
    return {k: (str(data[k]) if data.get(k) is not None else None) for k in fields}


class LLMClassifier:
    """Intents by the model, as a `Classifier` for the understanding feature.

    The feature asks it once per typed message before the flows run (not journaled: the
    flow that starts journals the message that started it). On any failure it answers
    nothing and the offline matcher decides.

    Example:
        >>> features=[Understanding(classifier=LLMClassifier(llm, examples))]
    """

    _SCHEMA: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "intent": {"type": "string"},
            "confidence": {"type": "number"},
        },
        "required": ["intent", "confidence"],
        "additionalProperties": False,
    }

    def __init__(self, llm: LLM, examples: Mapping[str, Sequence[str]] | None = None) -> None:
        self.llm = llm
        self.examples = dict(examples or {})

    async def classify(self, text: str, labels: Sequence[str]) -> list[Guess]:
        """The model's intent for `text` among `labels`, or none."""
        lines = []
        for label in labels:
            shown = "; ".join(self.examples.get(label, ())[:5])
            lines.append(f"- {label}" + (f" (e.g. {shown})" if shown else ""))
        messages = [
            {
                "role": "system",
                "content": "Classify the customer's message as one of these intents, or "
                "'none':\n" + "\n".join(lines) + "\nGive your confidence from 0 to 1.",
            },
            {"role": "user", "content": text},
        ]
        try:
            result = await self.llm.chat(messages, self._SCHEMA)
        except LLMError as exc:
            log.warning("llm classifier failed: %s", exc)
            return []
        data = result.get("data")
        if not isinstance(data, dict) or data.get("intent") not in labels:
            return []
        try:
            confidence = max(0.0, min(1.0, float(data.get("confidence", 0))))
        except (TypeError, ValueError):
            return []
        return [Guess(str(data["intent"]), confidence)]
