"""Config files that include shipped or neighbouring files; unreadable config files are errors, never skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pycgrates.engine.config import ConfigError, load_config
from pycgrates.engine.shipped import resolve, shipped_path

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def processor_ids(cfg) -> list[str]:
    return [p["id"] for p in cfg.get("diameter_agent", "request_processors")]


def test_shipped_include_comes_before_the_including_file(tmp_path):
    write(tmp_path / "cgrates.json", """{
        "include": ["pycgrates:templates/diameter/gy_sms.json"],
        "diameter_agent": {"request_processors": [{"id": "mine", "flags": ["*none"]}]},
    }""")
    cfg = load_config(tmp_path)
    ids = processor_ids(cfg)
    assert ids[-1] == "mine" and len(ids) > 1
    assert shipped_path("templates/diameter/gy_sms.json") in cfg.sources


def test_relative_include_and_nesting(tmp_path):
    write(tmp_path / "parts" / "b.json", '{"general": {"node_id": "from_b"}}')
    write(tmp_path / "parts" / "a.json", '{"include": ["b.json"], "general": {"default_tenant": "t_a"}}')
    write(tmp_path / "main" / "cgrates.json", '{"include": ["../parts/a.json"]}')
    cfg = load_config(tmp_path / "main")
    assert cfg.get("general", "node_id") == "from_b" and cfg.get("general", "default_tenant") == "t_a"


@pytest.mark.parametrize("include, needle", [
    ('["missing.json"]', "include"),
    ('["pycgrates:nowhere/x.json"]', "no shipped folder"),
    ('"pycgrates:templates/diameter/none.json"', "cannot read"),
    ("[1]", "expecting a list of file paths"),
])
def test_bad_include_is_an_error_naming_the_file(tmp_path, include, needle):
    main = write(tmp_path / "cgrates.json", f'{{"include": {include}}}')
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(main) in str(err.value) and needle in str(err.value)


def test_include_cycle_is_an_error(tmp_path):
    write(tmp_path / "x" / "a.json", '{"include": ["b.json"]}')
    write(tmp_path / "x" / "b.json", '{"include": ["a.json"]}')
    with pytest.raises(ConfigError, match="includes itself"):
        load_config(tmp_path / "x" / "a.json")


def test_dangling_link_in_config_dir_is_an_error(tmp_path):
    write(tmp_path / "cgrates.json", "{}")
    (tmp_path / "processors.json").symlink_to(tmp_path / "gone.json")
    with pytest.raises(ConfigError, match=r"processors\.json: cannot read"):
        load_config(tmp_path)


@pytest.mark.parametrize("sample", sorted(p.name for p in (REPO / "config" / "samples").iterdir()))
def test_sample_configs_work_when_copied(tmp_path, sample):
    """cp -r of a sample keeps every request processor: no links into the repository."""
    source = REPO / "config" / "samples" / sample
    assert not [p for p in source.rglob("*") if p.is_symlink()]
    copy = tmp_path / sample
    shutil.copytree(source, copy)
    assert load_config(copy).data == load_config(source).data


def test_cgrates_install_paths_resolve_to_shipped_dictionaries():
    assert resolve("/usr/share/cgrates/diameter/dict/") == shipped_path("dictionaries/diameter")
    assert resolve("/usr/share/cgrates/radius/dict/dictionary.rfc2865").is_file()
    assert resolve("/etc/cgrates") is None
