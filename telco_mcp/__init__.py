"""telco-mcp: an MCP server for operating telephony through SignalWire and sipgate."""

__version__ = "0.1.0"  # the single source of the version (pyproject reads it); no metadata lookup at startup

__all__ = ["__version__"]
