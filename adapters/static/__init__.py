"""The web chat page and its script."""
