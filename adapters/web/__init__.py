"""The local channels: the web chat at /chat and the terminal of `baton shell`.

No platform is involved: messages go straight into the inbox and replies are kept in memory.

- `parse.py`: a posted message -> `Inbound` (pure).
- `render.py`: prompts -> text and buttons (pure).
- `adapter.py`: `LocalAdapter`, `WebAdapter` (routes under /chat), `ShellAdapter`.
"""

from __future__ import annotations

from adapters.web.adapter import LocalAdapter, Reply, ShellAdapter, WebAdapter

__all__ = ["LocalAdapter", "Reply", "ShellAdapter", "WebAdapter"]
