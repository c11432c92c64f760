"""The console customer page's HTML and script."""
