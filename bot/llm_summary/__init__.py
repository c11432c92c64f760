"""The agent's LLM summary at handoff (optional, with `BATON_LLM_BASE_URL`): `LLMSummary`,
the feature, and `build_messages`, its prompt (fixed instructions, the conversation as
delimited data)."""

from bot.llm_summary.feature import LLMSummary
from bot.llm_summary.prompt import INSTRUCTIONS, build_messages

__all__ = ["INSTRUCTIONS", "LLMSummary", "build_messages"]
