"""The architecture tables in README.md and docs/architectures.md say what the metadata says."""

from __future__ import annotations

import re

import fer_zoo
from fer_zoo.report.terminal import human, percent
from tests.conftest import repo_root


def table_rows(path: str) -> dict[str, list[str]]:
    """The first table's rows that start with an architecture's name (later tables may name them too)."""
    rows = {}
    for line in (repo_root() / path).read_text().splitlines():
        match = re.match(r"\|\s*`([a-z0-9_-]+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows.setdefault(match.group(1), [cell.strip() for cell in match.group(2).split("|")])
    return rows


def seed_architectures() -> list[str]:
    return [n for n in fer_zoo.list_architectures() if fer_zoo.get_architecture(n).plugin.distribution == "fer-zoo"]


def test_readme_table_matches_metadata():
    rows = table_rows("README.md")
    assert sorted(rows) == seed_architectures()
    for name, (params, macs, reported, recipe) in rows.items():
        arch = fer_zoo.get_architecture(name)
        assert params == f"{arch.params:,}"
        assert macs == human(arch.macs)
        assert reported == percent((arch.reported or {}).get("val"))
        assert recipe == f"`{arch.recipe}`"


def test_docs_table_matches_metadata():
    rows = table_rows("docs/architectures.md")
    assert sorted(rows) == seed_architectures()
    for name, cells in rows.items():
        arch = fer_zoo.get_architecture(name)
        assert cells[0] == f"{arch.params:,}" and cells[3] == f"{arch.macs:,}"
