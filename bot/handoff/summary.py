"""What the agent reads first when a conversation reaches people: the flow and step, the
answers the bot collected, the customer's memory and channels, and the last messages (an
extractive summary: what was said and collected, nothing made up)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dialogs import Outcome, pending_prompt
from dialogs.prompts import Prompt
from storage import CustomerState, JournalRow

__all__ = ["readable", "summarize"]


def readable(value: Any) -> Any:
    """A stored (journaled) value as plain JSON for people: tagged dates, decimals and
    dataclasses shown by value, without importing anything."""
    if isinstance(value, list):
        return [readable(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get("__baton__")
    if tag is None:
        return {str(k): readable(v) for k, v in value.items()}
    if tag == "tuple":
        return [readable(v) for v in value.get("items", ())]
    if "v" in value:
        return value["v"]
    return readable(value.get("fields", {}))


def _said(answer: Mapping[str, Any], prompt: Mapping[str, Any] | None) -> str:
    choice = answer.get("choice")
    if choice is not None and prompt is not None:
        for value, label in prompt.get("choices", ()):
            if value == choice:
                return str(label)
    if answer.get("text") is not None:
        text = str(answer["text"])
        if prompt is not None:
            picked = Prompt.from_json(prompt).choice_for(text)
            if picked is not None:
                return picked.label
        return text
    if choice is not None:
        return str(choice)
    if answer.get("contact_phone"):
        return f"shared contact {answer['contact_phone']}"
    if answer.get("location"):
        lat, lon = answer["location"]
        return f"shared location {lat}, {lon}"
    if answer.get("media"):
        return f"sent {len(answer['media'])} file(s)"
    return ""


LAST_MESSAGES = 6
"""How many of the last messages (both ways) the summary shows."""


def summarize(
    state: CustomerState,
    outcome: Outcome,
    identities: Sequence[Mapping[str, Any]],
    recent: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """What the agent reads first: the flow and step, the answers the bot collected, the
    customer's memory, their channels and the last messages (`recent`, oldest first, each
    with "direction", "channel" and "text"). Computed when the handoff happens."""
    journals: dict[str, list[JournalRow]] = {}
    flows: dict[str, str] = {}
    if state.active_run_id:
        journals[state.active_run_id] = list(state.journal)
        flows[state.active_run_id] = state.active_flow or ""
    for run_id, flow_name in outcome.new_runs:
        journals.setdefault(run_id, [])
        flows[run_id] = flow_name
    for run_id, row in outcome.journal:
        entries = journals.setdefault(run_id, [])
        if row.kind != "start" or not entries:
            entries.append(row)
    run = next((r for r, rows in journals.items() if any(j.kind == "handoff" for j in rows)), None)
    if run is None:
        run = outcome.active_run_id or (next(reversed(flows)) if flows else None)
    answers: list[dict[str, Any]] = []
    step: str | None = None
    if run is not None:
        prompts: dict[str, Mapping[str, Any]] = {}
        for row in journals.get(run, []):
            if row.kind == "ask":
                prompts[row.key] = row.value["prompt"]
                step = str(row.value["prompt"].get("text", row.key))
            elif row.kind == "answer":
                prompt = prompts.get(row.key)
                question = str(prompt.get("text", row.key)) if prompt else row.key
                answers.append({"question": question, "answer": _said(row.value, prompt)})
            elif row.kind == "recall":
                answers.append(
                    {
                        "question": row.key,
                        "answer": readable(row.value.get("value")),
                        "remembered": True,
                    }
                )
        open_question = (
            pending_prompt(outcome.active_journal) if outcome.active_run_id == run else None
        )
        step = open_question.text if open_question is not None else step
    memory = outcome.memory if outcome.memory is not None else state.memory
    return {
        "flow": flows.get(run) if run is not None else None,
        "step": step,
        "answers": answers,
        "memory": {
            k: readable(v) for k, v in (memory or {}).items() if not k.startswith("_baton")
        },
        "last_messages": [
            {"from": "customer" if m.get("direction") == "in" else "bot", "text": m.get("text")}
            for m in list(recent)[-LAST_MESSAGES:]
            if m.get("text")
        ],
        "identities": [
            {
                "channel": i["channel"],
                "external_id": i["external_id"],
                "display_name": i.get("display_name"),
            }
            for i in identities
        ],
    }
