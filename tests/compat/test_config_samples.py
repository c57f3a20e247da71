"""Every reference CGRateS config_dir loads: unknown (stale) options are warnings, never errors."""

from __future__ import annotations

import re

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


#: What the reference configs still carry that CGRateS v0.11 itself does not read (it ignores them silently):
#: typos in its samples, options of removed features, options moved elsewhere since v0.10.
STALE_OPTIONS = {
    "unknown option cdrs.sessions_cost_retries",  # a typo of cdrs.session_cost_retries in the tutorials
    "unknown option rals.attributes_conns",  # never an option of RALs
    "unknown section users",  # UserS, removed before v0.10
    "unknown option ees.exporters[].field_separator",  # v0.10; now opts.csvFieldSeparator
    "unknown option ers.readers[].enabled",  # never an option of a reader
    "unknown option diameter_agent.request_processors[].request_fields[].handler_id",  # the removed *handler type
    "unknown option diameter_agent.request_processors[].request_fields[].mandat ory",  # a typo in diam_sy_internal
}


def test_only_stale_options_are_reported_unknown() -> None:
    if not SHARED_DATA.exists():
        shared_data("conf", "samples")  # skips, or fails under CI=true
    reported = set()
    for relative in SAMPLE_DIRS:
        for warning in load_config(shared_data(*relative.split("/"))).warnings:
            reported.add(re.sub(r"\[\d+\]", "[]", warning.split(": ", 1)[1]))
    assert reported == STALE_OPTIONS
