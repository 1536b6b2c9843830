"""Regenerate the OpenAPI cuts in tests/contracts/ from ../shared/specs and record their sha256s.

    python tools/cut_specs.py            # write the cuts and the table in tests/contracts/SOURCES.md
    python tools/cut_specs.py --check    # exit 1 if a fresh cut differs from the one in the repository
    python tools/cut_specs.py --specs DIR   # the specs folder, if it is not ../shared/specs

The operations come from the catalogue (`telco_mcp.catalogue.CATALOGUE`, each with a method and a
path) plus `EXTRA_OPERATIONS` in tests/contracts/specs.py; each document is cut to those paths and
every component they reach (`specs.reachable`). Add a tool to the catalogue, run this again, commit.

- SignalWire's REST document declares itself MIT-licensed (info.license): its cut is verbatim.
- SignalWire's Compatibility API document declares no licence; its repository licenses documentation
  content CC BY-NC 4.0 only: its cut is a structural extract. A catalogue operation belongs to it when
  its path starts with the Compatibility base (`specs.document_of`); its paths are relative to that base.
- sipgate's OpenAPI 3 file is a third party's conversion published without a licence: its cut is a
  structural extract (paths, parameters, schemas, statuses, media types, security), with every
  prose field (description, summary, title, examples, vendor extensions) left out. See SOURCES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.contracts import specs  # noqa: E402  (needs ROOT on sys.path)

SHARED = ROOT.parent / "shared" / "specs"
SOURCES: dict[specs.Document, str] = {
    "signalwire": "signalwire/signalwire-rest-openapi.yaml",
    "sipgate": "sipgate/sipgate-v2-openapi3-generator-normalized.yaml",
    "signalwire-compatibility": "signalwire/signalwire-compatibility-openapi.yaml",
}
STRUCTURAL: set[specs.Document] = {"sipgate", "signalwire-compatibility"}  # no licence lets us copy their text
BEGIN, END = "<!-- cut_specs.py: begin -->", "<!-- cut_specs.py: end -->"

# Keywords that only document (OpenAPI 3 / JSON Schema annotations); structure and validation keywords stay.
PROSE = {"description", "summary", "title", "example", "examples", "externalDocs", "tags", "termsOfService"}
# Keys whose value maps names (a property, a path, a status, a media type, a component) to objects.
NAME_MAPS = {
    "properties", "patternProperties", "paths", "responses", "content", "schemas", "parameters", "requestBodies",
    "headers", "securitySchemes", "callbacks", "links", "encoding", "variables", "$defs", "definitions",
    "dependentSchemas",
}  # fmt: skip
DATA = {"default", "enum", "const", "required", "mapping"}  # values, never walked for keywords


def structural(node: Any, parent: str | None = None) -> Any:
    """`node` without its prose: what a validator reads, and nothing a person wrote for people."""
    if isinstance(node, list):
        return [structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    if parent == "components":  # kind -> name -> object; examples are prose
        return {kind: structural(items, kind) for kind, items in node.items() if kind not in PROSE}
    if parent in NAME_MAPS:  # the keys are names: keep them all, walk each value
        out = {name: structural(value) for name, value in node.items()}
        if parent == "responses":  # a Response Object must have a description
            out = {status: value if "$ref" in value else {"description": "", **value} for status, value in out.items()}
        return out
    if parent == "scopes":  # an OAuth scope's name is structure, its description prose
        return dict.fromkeys(node, "")
    out = {}
    for key, value in node.items():
        if key in PROSE or key.startswith("x-"):
            continue
        out[key] = value if key in DATA else structural(value, key)
    return out


def cut(document: specs.Document, raw: dict[str, Any], source: str = "") -> dict[str, Any]:
    """The catalogue's operations of `raw` and what they reach; fails naming any the document lacks."""
    needed = specs.needed_operations()[document]
    by_shape = {specs.shape(t): t for t in raw["paths"]}
    missing = sorted(f"{m} {p}" for m, p in needed if p not in by_shape or m.lower() not in raw["paths"][by_shape[p]])
    if missing:
        raise SystemExit(f"{source or document} lacks operations the catalogue uses: {', '.join(missing)}")
    paths = {by_shape[p] for _, p in needed}
    out = specs.reachable(raw, paths)
    # Keep only the needed methods of each path (a path may hold operations no tool calls).
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    out["paths"] = {
        t: {k: v for k, v in item.items() if k not in methods or (k.upper(), specs.shape(t)) in needed}
        for t, item in out["paths"].items()
    }
    out = specs.reachable(out, set(out["paths"]))  # drop components only dropped methods used
    out.pop("webhooks", None)
    out.pop("tags", None)
    if document in STRUCTURAL:
        info = {"title": raw["info"]["title"], "version": raw["info"]["version"]}
        out = structural(out) | {"info": info}
    out["paths"] = dict(sorted(out["paths"].items()))
    out["components"] = {k: dict(sorted(v.items())) for k, v in sorted(out["components"].items())}
    return out


def dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, width=120)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| cut | from | sha256 of the source | sha256 of the cut |", "| --- | --- | --- | --- |"]
    lines += [f"| `{cut}` | `{src}` | `{a}` | `{b}` |" for cut, src, a, b in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--specs", type=Path, default=SHARED, help=f"the specs folder (default: {SHARED})")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, str]] = []
    stale: list[str] = []
    for document, name in SOURCES.items():
        source = args.specs / name
        if not source.exists():
            raise SystemExit(f"{source} is missing: the cut is made from ../shared/specs (or --specs DIR)")
        data = source.read_bytes()
        raw = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        text = dump(cut(document, raw, str(source)))
        target = specs.SPEC[document]
        if target.exists() and target.read_text() == text:
            pass
        elif args.check:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(text)
        rows.append((target.name, f"shared/specs/{name}", sha256(data), sha256(text.encode())))
    recorded = specs.SOURCES_MD.read_text()
    head, _, rest = recorded.partition(BEGIN)
    _, _, tail = rest.partition(END)
    updated = f"{head}{BEGIN}\n{table(rows)}\n{END}{tail}"
    if updated != recorded:
        if args.check:
            stale.append(str(specs.SOURCES_MD.relative_to(ROOT)))
        else:
            specs.SOURCES_MD.write_text(updated)
    if stale:
        print(f"out of date (run python tools/cut_specs.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    for name, _, _, digest in rows:
        print(f"{name}: sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
