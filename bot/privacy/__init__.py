"""Privacy by design, as one feature: erasure, export, consent withdrawal, the audit trail,
retention and logs without personal data.

- `service`: the `Privacy` feature (the customer's own requests, redeliveries of erased
  messages);
- `texts`: what customers read, and the words that ask;
- `page`: the export as a readable, escaped HTML page;
- `web`: the one-time export link's page;
- `pages`: the console's customer page (`/console/customers`; its API is
  `bot.console.api.customers`);
- `retention`: the scheduled retention job;
- `logs`: logs without personal data (scrubbing at INFO and above);
- `commands`: `baton customer erase|export` and `baton retention`.

The storage side: `storage.personal_data` (the registry of every table holding a customer's
data), `storage.erasure`, `storage.exports`, `storage.audit`, `storage.retention`,
`storage.consents` and `storage.privacy` (all of them through a store). The guide is
docs/guides/privacy.md.
"""

from __future__ import annotations

from bot.privacy.service import Privacy

__all__ = ["Privacy"]
