"""Settings: one typed object from `BATON_*` environment variables and `.env`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "load_settings"]

SurveyKind = Literal["csat", "ces", "nps"]


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


class Settings(BaseSettings):
    """Every setting of Baton. A channel is on when its credentials are set."""

    model_config = SettingsConfigDict(
        env_prefix="BATON_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    database_url: str = "sqlite+aiosqlite:///./baton.db"
    """The database: SQLite (`sqlite+aiosqlite:///./baton.db`) for one process, or PostgreSQL
    (`postgresql+asyncpg://user@host/db`) for several."""
    host: str = "127.0.0.1"
    """Where `baton run` listens (also `--host`)."""
    port: int = Field(8080, ge=0, le=65535)
    """The port `baton run` listens on (also `--port`)."""
    public_url: str | None = None
    """The https URL the platforms reach this server at (webhooks, Twilio signatures)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """How much Baton logs."""

    telegram_token: str | None = None
    """The Telegram bot token from @BotFather; Telegram is on when it is set."""
    telegram_secret: str | None = None
    """The secret Telegram sends with each webhook (X-Telegram-Bot-Api-Secret-Token); required
    in webhook mode. 1-256 characters of A-Z a-z 0-9 _ -."""
    telegram_api_base: str | None = None
    """Another Bot API server (the emulator in tests); unset: Telegram's own."""
    telegram_mode: Literal["webhook", "polling"] = "webhook"
    """webhook (Telegram posts to BATON_PUBLIC_URL/webhooks/telegram), or polling for local
    development without a public URL."""

    twilio_account_sid: str | None = None
    """The Twilio account SID; SMS is on when the SID, the auth token and the number are set."""
    twilio_auth_token: str | None = None
    """The Twilio auth token: it signs the webhooks (X-Twilio-Signature) and the API calls."""
    twilio_from: str | None = None
    """The Twilio number replies are sent from, in E.164 (e.g. +15005550006)."""
    twilio_api_base: str | None = None
    """Another Twilio API server (the emulator in tests); unset: Twilio's own."""

    slack_bot_token: str | None = None
    """The Slack bot token (xoxb-...); Slack is on when it and the signing secret are set."""
    slack_signing_secret: str | None = None
    """The Slack app's signing secret: it verifies the v0 signature of each request."""
    slack_api_base: str | None = None
    """Another Slack Web API server (the emulator in tests); unset: Slack's own."""

    sandbox: bool | None = None
    """Serve /sandbox; by default on when no platform credentials are set."""
    outbox_max_attempts: int = Field(8, ge=1, le=100)
    """Tries per reply before it is recorded as failed."""
    outbox_base_delay: float = Field(1.0, gt=0, le=3600)
    """Seconds before the first retry of a reply; each further retry waits twice as long (with
    jitter). A platform's retry-after wins."""
    outbox_max_delay: float = Field(600.0, gt=0, le=86400)
    """The longest wait between two tries of a reply, in seconds."""
    gc_freeze: bool = True
    """After start-up, freeze the objects start-up made and collect young objects less often
    (`bot.gc_tuning`): full garbage collections otherwise paused every reply in flight."""
    send_processes: int = Field(0, ge=0, le=16)
    """Child processes that make the platform calls of replies (Telegram, SMS, Slack); 0 sends
    from the server process. Busy deployments use a second core this way. A child that dies is
    replaced; its sends in flight are retried."""
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    """The event loop of the server and its send processes (`bot.event_loop`): auto takes
    uvloop where it is installed."""

    followup_poll_seconds: float = Field(1.0, gt=0, le=3600)
    """How often due timers, started flows and new events are looked for (work scheduled in
    the same process is picked up at once)."""
    webhook_urls: list[str] = Field(default_factory=list)
    """URLs every event is POSTed to, signed (JSON list, e.g. '["https://crm.example/hook"]')."""
    webhook_secret: str | None = None
    """The HMAC-SHA256 key of the `Baton-Signature` header of outgoing webhooks."""
    webhook_events: list[str] = Field(default_factory=lambda: ["*"])
    """Which events the webhooks get: names or patterns ("conversation.*"); all by default."""
    event_max_attempts: int = Field(10, ge=1, le=100)
    """Attempts of a listener or webhook before its delivery is given up (and logged)."""
    event_base_delay: float = Field(5.0, gt=0, le=3600)
    """Seconds before the first retry of a failed delivery; doubled each time."""
    event_max_delay: float = Field(3600.0, gt=0, le=86400)
    survey_kinds: list[SurveyKind] = Field(default_factory=lambda: list[SurveyKind](["csat"]))
    """Which surveys follow a conversation, asked in this order."""
    survey_after: Literal["agent", "bot", "both", "none"] = "none"
    """After what a survey comes: an agent resolved the conversation, the bot contained it (a
    flow finished), both; "none" (the default) asks no surveys."""
    survey_delay_minutes: float = Field(0.0, ge=0, le=525600)
    """How long after the resolution the survey is asked (0: right away)."""
    survey_min_interval_days: float = Field(30.0, ge=0, le=3650)
    """A customer is surveyed at most once in this many days."""
    survey_reopen_low: bool = True
    """A low score (CSAT or CES 2 or less, NPS 6 or less) hands the conversation to a person."""
    survey_comment: bool = True
    """Ask for an optional comment after the score."""
    survey_bot_flows: list[str] = Field(default_factory=list)
    """Flows whose completion counts as bot-contained (empty: any flow)."""

    reply_by_minutes: float = Field(30.0, gt=0, le=10080)
    """The first human reply is promised within this many minutes (of business hours)."""
    reply_by_warning_minutes: float = Field(5.0, ge=0, le=1440)
    """The console warns this many minutes before a reply-by deadline."""
    business_hours: str = ""
    """When people answer, e.g. "mon-fri 09:00-17:30; sat 10:00-16:00"; empty: always."""
    timezone: str = "UTC"
    """The time zone of the business hours, e.g. "Europe/Amsterdam"."""
    holidays: str = ""
    """Dates without business hours, e.g. "2026-12-25, 2026-12-26"."""
    expected_wait_minutes: float = Field(5.0, gt=0, le=1440)
    """Wait per place in the queue assumed until there are real waits to learn from."""
    queue_update_minutes: float = Field(5.0, ge=0, le=1440)
    """A waiting customer hears about a changed place or wait at most this often."""
    console_session_hours: float = Field(12.0, gt=0, le=720)
    """Agents log in again after this long."""
    console_idle_minutes: float = Field(30.0, gt=0, le=1440)
    """... or after this long without using the console."""
    console_origins: str = ""
    """More origins allowed to open the console's WebSocket (comma-separated); the server's
    own origin and BATON_PUBLIC_URL's always are."""
    stop_grace_seconds: float = Field(10.0, ge=0, le=600)
    """On stop (SIGTERM), replies being sent get this long to finish and be recorded; one still
    unanswered then is cancelled and may be sent again by the next start."""
    read_timeout_seconds: float = Field(10.0, gt=0, le=600)
    """A client has this long to send a request's headers, and again its body; then it is cut
    off (408 for a slow body)."""
    max_slow_readers: int = Field(100, ge=1, le=100000)
    """Slow request bodies (not there half a second after their headers) read at the same time;
    a slow client beyond them is answered 503 at once."""
    trusted_proxies: str = ""
    """Addresses of reverse proxies (comma-separated IPs or networks, e.g. "10.0.0.0/8") whose
    X-Forwarded-For is believed; empty: the client address is the connection's."""
    app: str | None = None
    """The bot `baton run` and `baton shell` run when none is named, as module:attribute
    (e.g. flows:app); empty: `[tool.baton] app` in ./pyproject.toml, else the demo bot."""
    question_expiry_hours: float = Field(24.0, ge=0, le=8760)
    """An open question expires this long after the bot asked it: the customer's next message
    starts fresh (`App(question_expiry_hours=...)` overrides it); 0 never expires."""
    llm_base_url: str | None = None
    """An OpenAI-compatible chat completions API for the optional LLM (`baton[llm]`), e.g.
    https://api.openai.com/v1 or a local http://127.0.0.1:11434/v1; empty: no LLM."""
    llm_model: str = "gpt-4o-mini"
    """The model name the LLM server knows."""
    llm_api_key: str = "not-needed"
    """The LLM server's API key (local servers take any)."""
    llm_timeout_seconds: float = Field(20.0, gt=0, le=600)
    """How long one LLM call may take before it is tried again."""
    llm_retries: int = Field(2, ge=0, le=10)
    """Further attempts after a timeout, a 429 or a 5xx."""
    llm_mask_personal_data: bool = True
    """Mask phone numbers and e-mail addresses before anything is sent to the LLM."""
    llm_price_in: float = Field(0.0, ge=0)
    """Price of a million prompt tokens, for the cost recorded with each call."""
    llm_price_out: float = Field(0.0, ge=0)
    """Price of a million completion tokens."""

    media_folder: str = "./baton-media"
    """Where files customers send are kept (one folder per customer); see `bot.media` for
    object storage."""
    media_max_bytes: int = Field(10_000_000, ge=1, le=100_000_000)
    """The largest file a customer may send; a larger one is refused, with a message."""
    media_types: str = "image/*, application/pdf, audio/*, video/*, text/plain"
    """The file types (MIME, comma-separated; "image/*" takes any image) Baton keeps."""
    media_fetch_seconds: float = Field(30.0, gt=0, le=600)
    """A file's download from the platform is given up after this long."""
    # Privacy (docs/guides/privacy.md): export links and retention, in days (0 keeps forever).
    privacy_export_minutes: float = Field(30.0, gt=0, le=10080)
    """How long a customer's one-time export link works."""
    retention_inbox_days: float = Field(30.0, ge=0, le=36500)
    """Raw inbound payloads, once handled."""
    retention_outbox_days: float = Field(30.0, ge=0, le=36500)
    """Replies sent or given up on (the message itself is kept as a message)."""
    retention_messages_days: float = Field(730.0, ge=0, le=36500)
    """Messages on every channel."""
    retention_journals_days: float = Field(90.0, ge=0, le=36500)
    """Finished flow runs and their journals."""
    retention_sessions_days: float = Field(30.0, ge=0, le=36500)
    """Console sessions and export links, counted from when they expired."""
    retention_every_hours: float = Field(24.0, ge=0, le=8760)
    """How often the retention job runs (once across all processes); 0: never by itself
    (`baton retention` still runs it)."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        import ipaddress

        for item in (i.strip() for i in value.split(",")):
            if item:
                ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "use sqlite+aiosqlite:///./baton.db or postgresql+asyncpg://user@host/db"
            )
        return value

    @field_validator(
        "public_url", "telegram_api_base", "twilio_api_base", "slack_api_base", "llm_base_url"
    )
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("webhook_urls")
    @classmethod
    def _webhooks(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} must be an http:// or https:// URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("use at least 16 characters (a random string)")
        return value

    @model_validator(mode="after")
    def _signed_webhooks(self) -> Settings:
        if self.webhook_urls and not self.webhook_secret:
            raise ValueError(
                "BATON_WEBHOOK_URLS needs BATON_WEBHOOK_SECRET: outgoing webhooks are signed"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from bot.handoff import BusinessHours

        BusinessHours.parse("", value)
        return value

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        from bot.handoff import BusinessHours

        BusinessHours.parse(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str) -> str:
        from bot.handoff import BusinessHours

        BusinessHours.parse("", "UTC", value)
        return value

    @field_validator("console_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",")):
            if origin and not origin.startswith(("http://", "https://")):
                raise ValueError("origins look like https://console.example.com")
        return value

    @field_validator("telegram_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        import re

        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("Telegram allows 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @property
    def channels_configured(self) -> list[str]:
        """Platform channels whose credentials are set (see `adapters.registry`)."""
        from adapters.registry import configured

        return configured(self)


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise `SettingsError` naming each bad `BATON_*` variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "BATON_" + "_".join(str(p) for p in err["loc"]).upper()
            value = err.get("input")
            shown = f"={value!r}" if isinstance(value, str | int | float) else ""
            problems.append(f"{name}{shown}: {err['msg']}")
        where = "fix it in the environment or .env (see .env.example)"
        if len(problems) == 1:
            raise SettingsError(f"bad setting {problems[0]}; {where}") from None
        raise SettingsError(f"bad settings ({where}):\n  " + "\n  ".join(problems)) from None
