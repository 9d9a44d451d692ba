"""The ``steward`` command line: thin commands that parse, call, render."""
