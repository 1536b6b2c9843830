"""The OpenAPI cuts in this folder: they cover the catalogue, are the files SOURCES.md records, and
are what tools/cut_specs.py makes; every test that reads them is marked `contract`."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.contracts import specs

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]


def _cut_specs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cut_specs", ROOT / "tools" / "cut_specs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("document", list(specs.SPEC))
def test_the_cut_covers_every_operation_of_the_catalogue(document: specs.Document) -> None:
    declared = specs.operations(specs.load(document))
    missing = specs.needed_operations()[document] - declared
    assert not missing, f"{specs.SPEC[document].name} lacks {sorted(missing)}: run python tools/cut_specs.py"


def test_every_catalogue_operation_that_reaches_a_provider_is_counted() -> None:
    """A control for the test above: the catalogue's operations are all there, under the right provider."""
    from telco_mcp.catalogue import CATALOGUE

    needed = specs.needed_operations()
    upstream = [op for op in CATALOGUE if op.local is None]
    assert len(upstream) > 40
    assert ("PUT", "/calls/{}/hold") in needed["sipgate"]
    assert ("PATCH", "/api/fabric/resources/sip_gateways/{}") in needed["signalwire"]
    # SignalWire's Compatibility tools go to their own document, under its base-relative paths
    assert ("POST", "/Accounts/{}/Calls") in needed["signalwire-compatibility"]
    assert not {t for _, t in needed["signalwire"] if t.startswith("/api/laml/")}

    def routed(provider: specs.Provider, method: str, path: str) -> tuple[str, str, str]:
        document, relative = specs.document_of(provider, path)
        return document, method, specs.shape(relative)

    distinct = {routed(op.provider, op.method, op.path) for op in upstream}
    extra = {routed(p, m, t) for p, m, t in specs.EXTRA_OPERATIONS}
    assert {(d, m, t) for d, ops in needed.items() for m, t in ops} == distinct | extra


def test_each_cut_is_the_file_sources_md_records() -> None:
    row = r"^\| `([^`]+\.cut\.yaml)` \| `[^`]+` \| `[0-9a-f]{64}` \| `([0-9a-f]{64})` \|"
    recorded = dict(re.findall(row, specs.SOURCES_MD.read_text(), re.M))
    assert set(recorded) == {p.name for p in specs.SPEC.values()}
    for path in specs.SPEC.values():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name], (
            f"{path.name} differs from the sha256 SOURCES.md records: regenerate it with tools/cut_specs.py"
        )


@pytest.mark.parametrize("document", list(specs.SPEC))
def test_cutting_the_cut_again_changes_nothing(document: specs.Document) -> None:
    """The script's cut is a fixed point: what it makes from the committed cut is the committed cut, byte for byte
    (so the script and the files here agree, without the sources beside the checkout)."""
    cut_specs = _cut_specs()
    text = specs.SPEC[document].read_text()
    raw = yaml.load(text, Loader=yaml.CSafeLoader)
    assert cut_specs.dump(cut_specs.cut(document, raw)) == text


def test_the_cut_fails_naming_an_operation_the_document_lacks() -> None:
    cut_specs = _cut_specs()
    raw: dict[str, Any] = specs.load("sipgate")
    del raw["paths"]["/calls/{callId}/hold"]
    with pytest.raises(SystemExit, match=r"PUT /calls/\{\}/hold"):
        cut_specs.cut("sipgate", raw)


# A required field of each structural extract: the structure is kept.
STRUCTURE = {
    "sipgate": ("NewCallRequest", {"caller", "callee"}),
    "signalwire-compatibility": ("CreateCallRequest", {"To", "From"}),
}


def test_the_documents_without_a_licence_are_cut_to_their_structure() -> None:
    assert set(STRUCTURE) == _cut_specs().STRUCTURAL


@pytest.mark.parametrize("document", list(STRUCTURE))
def test_a_structural_extract_carries_no_prose(document: specs.Document) -> None:
    """sipgate's document and SignalWire's Compatibility one grant no licence to copy their text: each
    extract keeps its structure and none of its text."""
    raw = yaml.load(specs.SPEC[document].read_text(), Loader=yaml.CSafeLoader)
    prose: list[str] = []

    def walk(node: Any, where: str, names: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not names and (key in ("summary", "example", "examples", "externalDocs") or key.startswith("x-")):
                    prose.append(f"{where}/{key}")
                if not names and key == "description" and value != "":
                    prose.append(f"{where}/{key}")
                walk(value, f"{where}/{key}", not names and key in ("properties", "paths", "responses", "schemas"))
        elif isinstance(node, list):
            for item in node:
                walk(item, where, False)

    walk(raw, "", False)
    assert not prose, prose[:10]
    schema, required = STRUCTURE[document]
    assert required <= set(raw["components"]["schemas"][schema]["required"])  # structure kept


# Reading the specs: through specs.py, or through the request check (tests/spec_requests.py), which reads them.
READS = re.compile(
    r"^\s*(?:from tests\.contracts import specs|import spec_requests|from spec_requests )|contracts\.specs", re.M
)


def test_every_test_that_reads_the_specs_is_marked_contract() -> None:
    """CI runs `-m contract` in a bare clone (nothing beside it); an unmarked reader of the specs would miss that.

    A test module reads them itself, or its folder's conftest.py does for it (an autouse fixture of the request
    check); such a conftest.py marks every test of its folder."""
    tests = ROOT / "tests"
    conftests = {path.parent: path.read_text() for path in tests.rglob("conftest.py")}
    unmarked = [f"{folder.relative_to(ROOT)}/conftest.py" for folder, text in conftests.items()
                if READS.search(text) and "mark.contract" not in text]  # fmt: skip
    for path in sorted(tests.rglob("test_*.py")):
        text = path.read_text()
        around = [conftests.get(folder, "") for folder in path.parents if folder.is_relative_to(tests)]
        if (READS.search(text) or any(READS.search(t) for t in around)) and not any(
            "mark.contract" in t for t in [text, *around]
        ):
            unmarked.append(str(path.relative_to(ROOT)))
    assert not unmarked, f"read the specs but are not marked `contract`: {unmarked}"
