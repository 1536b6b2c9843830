"""telco-mcp: an MCP server for operating telephony through SignalWire and sipgate."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("telco-mcp")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
