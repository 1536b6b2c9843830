"""docs/configuration.md's reference is generated from `Settings` (issue 26, item 5): every setting appears
with its default (a secret's never), meaning and when it matters; a setting without "matters" text fails
here; `telco-mcp manifest --check` fails when the page drifts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from telco_mcp import config_reference, manifest
from telco_mcp.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "configuration.md"


def generated_rows() -> dict[str, list[str]]:
    text = DOC.read_text()
    block = text[text.index(config_reference.START) : text.index(config_reference.END)]
    rows = [re.split(r"(?<!\\) \| ", line.strip("| ")) for line in block.splitlines() if line.startswith("| `")]
    return {cells[0].strip("`"): cells for cells in rows}


def test_every_setting_has_its_matters_text() -> None:
    """A setting added without `json_schema_extra={"matters": ...}` and without a MATTERS entry fails here."""
    lacking = [name.upper() for name, info in Settings.model_fields.items() if not config_reference.matters(name, info)]
    assert lacking == [], (
        f"say when these matter (config_reference.MATTERS or the field's json_schema_extra): {lacking}"
    )
    stale = set(config_reference.MATTERS) - set(Settings.model_fields)
    assert not stale, f"MATTERS names settings that no longer exist: {stale}"


def test_the_page_lists_every_setting_with_default_meaning_and_matters() -> None:
    rows = generated_rows()
    assert list(rows) == [name.upper() for name in Settings.model_fields]
    for name, info in Settings.model_fields.items():
        _, shown_default, shown_meaning, shown_matters = rows[name.upper()]
        if config_reference.is_secret(info):
            assert shown_default == "none (secret)"
        assert (info.description or "").split(" (")[0].rstrip(".") in shown_meaning.replace("\\|", "|")
        assert shown_matters == config_reference.matters(name, info)
    assert rows["TELCO_MCP_CONFIRM_TTL"][1:3] == [
        "`300`",
        "Lifetime of confirmation tokens and pending approvals, in seconds. ≥ 30, ≤ 3600.",
    ]
    assert rows["TELCO_MCP_BLOCK_PREMIUM"][1] == "`1`" and rows["SIGNALWIRE_SPACE"][1] == "unset"
    assert "One of `auto`, `elicit`, `approval`, `token`, `off`." in rows["TELCO_MCP_CONFIRM"][2]
    # the hand-written section stays outside the markers
    text = DOC.read_text()
    assert text.index("## A misspelled setting stops startup") > text.index(config_reference.END)


def test_a_new_setting_renders_a_secret_default_never_and_its_declared_matters() -> None:
    class Later(Settings):
        telco_mcp_some_secret: SecretStr = Field(SecretStr("reference-canary-7731"), description="A secret.")
        telco_mcp_undescribed: int = Field(3, ge=1, description="Added in another branch.")
        telco_mcp_described: bool = Field(
            False, description="Declares it.", json_schema_extra={"matters": "a branch says so in settings.py"}
        )

    table = config_reference.render(Later)
    assert "reference-canary-7731" not in table
    assert "| `TELCO_MCP_SOME_SECRET` | none (secret) | A secret. |" in table
    assert f"| `TELCO_MCP_UNDESCRIBED` | `3` | Added in another branch. ≥ 1. | {config_reference.MISSING} |" in table
    assert "| `TELCO_MCP_DESCRIBED` | `0` | Declares it. | a branch says so in settings.py |" in table


def test_manifest_check_fails_when_the_reference_drifts(tmp_path: Path) -> None:
    assert "docs/configuration.md" not in manifest.check(REPO)
    expected = manifest.expected_files(REPO)
    copy = tmp_path / "repo"
    for path, text in expected.items():
        target = copy / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (copy / manifest.BUNDLE_TEMPLATE).write_text((REPO / manifest.BUNDLE_TEMPLATE).read_text())
    assert manifest.check(copy) == []
    page = copy / "docs" / "configuration.md"
    page.write_text(page.read_text().replace("| `TELCO_MCP_TIMEOUT` |", "| `TELCO_MCP_TIMEOUT_S` |"))
    assert manifest.check(copy) == ["docs/configuration.md"]
    assert manifest.write(copy) == ["docs/configuration.md"] and manifest.check(copy) == []
    page.write_text(page.read_text().replace(config_reference.END, ""))
    with pytest.raises(ValueError, match="generated-settings markers"):
        manifest.check(copy)
