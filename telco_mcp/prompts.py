"""MCP prompts for the operator workflows people ask for most (filled in below)."""

from __future__ import annotations

PROMPTS: tuple = ()
