"""Sketchbridge: sketch + prompt in, finished image out, watched live.

The package ships as a Lambda layer. Map of where each behaviour lives:
docs/architecture.md.
"""
