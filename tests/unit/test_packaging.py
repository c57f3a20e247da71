"""The tree installs as one import package, pycgrates: nothing imports the repository folders by their own names."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL_IMPORT = re.compile(r"^\s*(?:from|import)\s+(engine|agents)(?:\.|\s|$)", re.M)


def test_no_module_imports_engine_or_agents_as_top_level_packages():
    offenders = []
    for folder in ("engine", "agents", "tests", "benchmarks", "tutorials"):
        for path in (REPO / folder).rglob("*.py"):
            for match in TOP_LEVEL_IMPORT.finditer(path.read_text()):
                offenders.append(f"{path.relative_to(REPO)}: {match.group(0).strip()}")
    assert not offenders, "import pycgrates.engine / pycgrates.agents instead:\n" + "\n".join(offenders)


def test_no_module_finds_shipped_data_by_walking_up_from_its_file():
    offenders = [str(p.relative_to(REPO)) for folder in ("engine", "agents") for p in (REPO / folder).rglob("*.py")
                 if re.search(r"__file__\)?\.resolve\(\)\.parents\[|parent\.parent", p.read_text())]
    assert not offenders, "read shipped data through pycgrates.engine.shipped:\n" + "\n".join(offenders)
