"""Stand-ins for the real providers' HTTP APIs, for offline development and contract tests.

Each speaks its provider's wire protocol (paths, JSON shapes, status codes,
headers) closely enough that the official SDK, pointed at it through its
base-URL setting, runs unchanged; each renders with the local renderer; each
shares the control API in ``control.py`` so a test can script its failures and
read back what it received.
"""
