"""`python -m bot` is `baton run`; `python -m bot shell` is `baton shell`."""

from __future__ import annotations

import sys

from bot.cli import main

sys.exit(main())
