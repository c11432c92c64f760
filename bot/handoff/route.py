"""The handoff's stage of a turn: turns that involve people commit here.

A turn involves people when the conversation was waiting for or held by a person, or the
turn changes its status. Such a turn commits only while the conversation still has the
status it was routed on (an agent may have claimed or resolved it meanwhile: then nothing
is written and the engine runs the turn again); a turn that starts waiting opens a handoff
(with the agent's summary, the reply-by deadline and the customer's queue notice) and one
that leaves people closes it, in the same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.pipeline import StatusChanged, Turn
from bot.handoff.summary import LAST_MESSAGES, summarize
from dialogs.languages import language_in
from storage import GuardedTurn, HandoffOpening
from storage.vocabulary import OPEN, ConversationStatus, HandoffStatus

if TYPE_CHECKING:
    from bot.handoff.service import Handoffs

__all__ = ["HandoffRoute", "involves_people"]


def involves_people(before: str, after: str) -> bool:
    """Whether a turn from status `before` to `after` must be committed guarded."""
    return before in OPEN or after != before


class HandoffRoute:
    """The `route` stage (see `bot.engine.pipeline`)."""

    def __init__(self, handoffs: Handoffs) -> None:
        self._handoffs = handoffs

    async def __call__(self, turn: Turn) -> None:
        """Commit a turn that involves people, guarded by the status it was routed on."""
        outcome = turn.outcome
        before, after = turn.before, turn.after
        if outcome is None or turn.outbox is not None or not involves_people(before, after):
            return
        handoffs = self._handoffs
        opening = None
        closing = None
        if after == ConversationStatus.WAITING and before not in OPEN:
            now = handoffs.clock()
            identities = await handoffs.db.identities(turn.customer_id)
            # The place is read before the transaction: two customers entering at once may
            # both hear the same place; the queue ticker tells them the right one next.
            position = await handoffs.db.queue_length() + 1
            notice, wait = handoffs.notice(position, now)
            memory = outcome.memory if outcome.memory is not None else turn.state.memory
            notice = turn.app.languages.translate(
                notice, language_in(memory, turn.app.languages.default), turn.app.texts
            )
            opening = HandoffOpening(
                reason=outcome.handoff_reason,
                trigger=outcome.handoff_trigger or "customer",
                summary=summarize(
                    turn.state,
                    outcome,
                    identities,
                    [
                        *await handoffs.db.history(turn.customer_id, limit=LAST_MESSAGES),
                        {"direction": "in", "text": turn.inbound.text},
                    ],
                ),
                since=now,
                deadline_at=handoffs.deadline(now),
                position=position,
                notice=notice,
                wait=wait,
            )
        elif before in OPEN and after not in OPEN:
            closing = (
                HandoffStatus.CANCELLED
                if before == ConversationStatus.WAITING
                else HandoffStatus.LEFT
            )
        result = await handoffs.db.commit_guarded(
            GuardedTurn(
                turn.write(), before, opening=opening, closing=closing, reply_to=turn.reply_to()
            )
        )
        if result is None:
            raise StatusChanged
        turn.outbox = result[0]
