"""A customer's export as a readable HTML page: every value escaped, no script, the JSON
alongside."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["export_page"]

_TITLES = {
    "profile": "Your profile",
    "identities": "Where you talk to us",
    "consents": "What you agreed to",
    "messages": "Messages, on every channel",
    "conversations": "Conversations",
    "handoffs": "Talks with our team",
    "handoff_events": "What happened in those talks",
    "agent_notes": "Notes our team wrote about you",
    "flow_runs": "Conversations with the bot",
    "flow_answers": "Your answers to the bot",
    "merge_log": "Channels joined together",
    "link_codes": "Linking codes",
    "phone_proofs": "Verified phone numbers",
    "inbox": "Messages as the platform delivered them",
    "outbox": "Replies as we sent them",
    "data_requests": "Your requests and who looked at your data",
}


def _when(value: Any) -> str:
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key.endswith("_at") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return escape(_when(value))
    if isinstance(value, (dict, list)):
        return f"<pre>{escape(json.dumps(value, ensure_ascii=False, indent=1))}</pre>"
    return escape(str(value))


def export_page(data: dict[str, Any]) -> str:
    """The export (`storage.exports.export`) as one HTML document."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=robots content=noindex><title>Your data</title>",
        "<style>body{font:15px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;"
        "padding:.2em .5em;vertical-align:top;text-align:left}pre{margin:0;white-space:"
        "pre-wrap}</style></head><body>",
        "<h1>Everything we hold about you</h1>",
        f"<p>Made {escape(_when(data['exported_at']))}.</p>",
    ]
    for name, rows in data["sections"].items():
        parts.append(f"<h2>{escape(_TITLES.get(name, name))}</h2>")
        if not rows:
            parts.append("<p>Nothing.</p>")
            continue
        keys = list(rows[0])
        parts.append("<table><tr>" + "".join(f"<th>{escape(k)}</th>" for k in keys) + "</tr>")
        for row in rows:
            parts.append(
                "<tr>" + "".join(f"<td>{_cell(k, row.get(k))}</td>" for k in keys) + "</tr>"
            )
        parts.append("</table>")
    parts.append("<h2>The same, as JSON</h2>")
    parts.append(f"<pre>{escape(json.dumps(data, ensure_ascii=False, indent=1))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
