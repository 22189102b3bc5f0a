"""Deployable files: each format written, reloaded and verified."""
