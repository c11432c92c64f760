"""Privacy by design, as one feature: erasure, export, consent withdrawal, the audit trail,
retention and logs without personal data.

- `service`: the `Privacy` feature (the customer's own requests, redeliveries of erased
  messages);
- `texts`: what customers read, and the words that ask;
- `page`: the export as a readable, escaped HTML page;
- `web`: the one-time export link's page;
- `retention`: the scheduled retention job;
- `commands`: `baton customer erase|export` and `baton retention`.
"""

from __future__ import annotations

from bot.privacy.service import Privacy

__all__ = ["Privacy"]
