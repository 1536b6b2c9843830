"""Benchmarks of telco-mcp, each figure measured side by side with its reference: `python -m bench`.

See bench/README.md for what each figure means and how to reproduce the table.
"""
