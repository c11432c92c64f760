"""The optional LLM from the settings (`BATON_LLM_*`, see `bot.settings`)."""

from __future__ import annotations

from bot.settings import Settings
from dialogs.llm import LLM

__all__ = ["llm_from_settings"]


def llm_from_settings(settings: Settings) -> LLM | None:
    """The LLM `BATON_LLM_BASE_URL` and friends describe, or None when it is not set.

    Example:
        >>> llm = llm_from_settings(load_settings())
    """
    if settings.llm_base_url is None:
        return None
    return LLM(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_seconds,
        retries=settings.llm_retries,
        mask_personal_data=settings.llm_mask_personal_data,
        price_in=settings.llm_price_in,
        price_out=settings.llm_price_out,
    )
