"""`python -m telco_mcp` is the same as the `telco-mcp` command."""

from telco_mcp.cli import main

if __name__ == "__main__":
    main()
