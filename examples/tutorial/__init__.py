"""The tutorial's bot (docs/tutorial.md): what `baton new shop` writes, plus a returns flow.

The tutorial's pages include this code from here, and `tests/docs/test_tutorial.py` runs it.
"""
