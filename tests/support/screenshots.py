"""Screenshots the browser tests make, for the docs and the README.

Each is saved in `test-output/`; with `BATON_UPDATE_SCREENSHOTS=1` it is also written to
`docs/images/`, where the docs and the README show it. So every picture in the docs is made by
a test, from the real pages (`python -m pytest -m browser` with that variable set remakes them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
DOCS_IMAGES = ROOT / "docs" / "images"


async def save_screenshot(page: Any, name: str, **options: Any) -> Path:
    """Screenshot `page` as test-output/NAME (and docs/images/NAME when updating)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    await page.screenshot(path=str(path), **options)
    if os.environ.get("BATON_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / name)
    return path
