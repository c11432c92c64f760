"""The sandbox page (/sandbox): its HTML, script and style sheet, read with importlib.resources."""
