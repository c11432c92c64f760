"""What `baton run` prints once it serves: where to go next."""

from __future__ import annotations

from bot.settings import Settings

__all__ = ["banner"]


def banner(settings: Settings, url: str, target: str, *, sandbox: bool) -> str:
    """The lines printed when the engine runs and the socket listens."""
    lines = [f"Baton is running {target} on {_database(settings.database_url)}"]
    if sandbox:
        from bot.sandbox import banner as sandbox_banner

        lines.append("  " + sandbox_banner(settings, url))
    lines += [
        f"  Web chat: {url}/chat",
        f"  Console:  {url}/console (make an account: baton agent add EMAIL --name NAME)",
        "  Terminal: baton shell (in another terminal; it joins this server)",
    ]
    channels = settings.channels_configured
    if channels:
        lines.append(f"  Channels: {', '.join(channels)} (webhooks under {url}/webhooks/)")
    lines.append("Ctrl-C stops it.")
    return "\n".join(lines)


def _database(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"
