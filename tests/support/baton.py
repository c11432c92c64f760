"""Run a real Baton (aiohttp server on loopback, real storage) inside a test.

The implementation ships with the package as `bot.testing.running_baton`, so developers can use
it too; these names stay for the tests that import them from here.
"""

from __future__ import annotations

from bot.testing import Running, running_baton

__all__ = ["Running", "running_baton"]
