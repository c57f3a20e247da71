"""Every reference CGRateS config_dir loads: unknown (stale) options are warnings, never errors."""

from __future__ import annotations

import pytest

from pycgrates.engine.config import load_config
from tests.conftest import SHARED_DATA, reference_config_dirs, shared_data

SAMPLE_DIRS = [
    *(f"conf/samples/{name}" for name in reference_config_dirs()),
    *(f"tutorial_tests/{p.name}/cgrates/etc/cgrates" for p in sorted((SHARED_DATA / "tutorial_tests").glob("*"))
      if (p / "cgrates" / "etc" / "cgrates").is_dir()),
] or ["conf/samples"]  # without the reference data: one case, which skips (or fails under CI=true)


@pytest.mark.parametrize("relative", SAMPLE_DIRS)
def test_reference_config_dir_loads(relative: str) -> None:
    config_dir = shared_data(*relative.split("/"))
    cfg = load_config(config_dir)
    assert cfg.sources, f"no *.json under {config_dir}"
    for warning in cfg.warnings:
        print(warning)
    for name, value in cfg.data.items():
        assert isinstance(value, dict | list), name
