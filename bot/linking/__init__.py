"""One customer across channels, as one feature.

- `service`: the `Linking` feature (people link and unlink, codes, continuity);
- `stages`: its stages of a turn (proofs and codes before the flows; a switch acknowledged);
- `texts`: what customers read, and the words that ask for a code.
"""

from __future__ import annotations

from bot.linking.service import Linking
from bot.linking.stages import LinkIntercept, SwitchNotice
from bot.linking.texts import LINK_CHOICE, LINK_WORDS, channel_name

__all__ = ["LINK_CHOICE", "LINK_WORDS", "LinkIntercept", "Linking", "SwitchNotice", "channel_name"]
