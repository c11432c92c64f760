"""The console page's static files (HTML, script, styles)."""
