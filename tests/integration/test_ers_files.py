"""File readers in a real cgr-engine: FreeSWITCH CSV CDRs dropped into a watched folder become rated CDRs exactly
once, also across kill -9 half-way through a file; malformed lines are counted, logged with file and line and
moved aside while the rest is processed; partial records (flatstore INVITE/BYE pairs) merge into one CDR; XML,
fixed-width and JSON files are read as the ers_internal sample reads them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.integration.cdrs_io import (
    FS_FIELDS,
    T,
    cdr_count,
    engine_overrides,
    fs_line,
    restart,
    run_id,
    start_engine,
    wait_for,
)

#: records in the kill -9 test (100,000 were run by hand: see docs/performance.md)
CRASH_LINES = int(os.environ.get("ERS_CRASH_LINES", "10000"))


def csv_reader(src: Path, out: Path, **extra) -> dict:
    return {"id": "fs_csv", "type": "*file_csv", "run_delay": "-1", "source_path": str(src),
            "processed_path": str(out), "flags": ["*cdrs"], "fields": FS_FIELDS, **extra}


def drop(tmp: Path, folder: Path, name: str, text: str) -> None:
    """Write elsewhere, then move into the watched folder (how a switch should hand over a file)."""
    staging = tmp / f"{name}.part"
    staging.write_text(text)
    os.rename(staging, folder / name)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    return src, out


def test_csv_exactly_once_with_malformed_lines(tmp_path, dirs):
    src, out = dirs
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"concurrent_events": 32, "readers": [csv_reader(src, out)]}))
    try:
        run = run_id()
        lines = [fs_line(i, run=run) for i in range(500)]
        lines.insert(100, '"1001","1001","broken line with too few columns"\n')
        lines.insert(300, fs_line(9999, run=run).replace('"NORMAL_CLEARING",', ""))  # 14 columns
        lines.insert(400, '"1001","1001","33612","default","2024-01-15 10:00:00","x","y","5","5","NORMAL_CLEARING",'
                          '"","","1001","PCMU","PCMU"\n')  # no OriginID: mandatory field missing
        drop(tmp_path, src, "fs1.csv", "".join(lines))
        wait_for("the file moved to processed_path", lambda: (out / "fs1.csv").exists())
        assert cdr_count(eng, OriginHosts=["fs-csv"]) == 500
        counters = eng.call("ErSv1.GetReaderCounters", {"ReaderID": "fs_csv"})["fs_csv"]
        assert counters == {"Read": 503, "Processed": 500, "Duplicates": 0, "Failed": 0, "Malformed": 3,
                            "Filtered": 0, "Partial": 0}
        failed = (out / "fs1.csv.failed").read_text().splitlines()
        assert failed == [lines[100].rstrip("\n"), lines[300].rstrip("\n"), lines[400].rstrip("\n")]
        log = eng.log()
        for line_no in (101, 301, 401):
            assert f"{src / 'fs1.csv'}:{line_no}: malformed record, moved aside" in log
        assert "MANDATORY_IE_MISSING: [OriginID]" in log
        # the same file dropped again: every line is a duplicate the CDR server refuses, nothing is rated twice
        drop(tmp_path, src, "fs1.csv", "".join(lines))
        wait_for("the second copy moved", lambda: (out / "fs1.csv.1").exists())
        assert cdr_count(eng, OriginHosts=["fs-csv"]) == 500
        again = eng.call("ErSv1.GetReaderCounters", {"ReaderID": "fs_csv"})["fs_csv"]
        # (SessionSv1.ProcessCDR answers OK for a CDR it finds stored; CDRsV1 directly would answer EXISTS)
        assert again["Processed"] + again["Duplicates"] == 1000 and again["Malformed"] == 6
    finally:
        eng.kill()


def test_csv_kill9_half_way_no_line_lost_none_rated_twice(tmp_path, dirs):
    src, out = dirs
    n = CRASH_LINES
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"concurrent_events": 64, "readers": [csv_reader(src, out)]}))
    run = run_id()
    try:
        drop(tmp_path, src, "big.csv", "".join(fs_line(i, run=run) for i in range(n)))
        wait_for("half the CDRs", lambda: cdr_count(eng) >= n // 2, timeout=max(300, n / 40), period=0.05)
    finally:
        eng.kill()
    before = time.monotonic()
    assert not (out / "big.csv").exists()
    eng = restart(eng)
    try:
        wait_for("the file moved to processed_path", lambda: (out / "big.csv").exists(), timeout=max(300, n / 40))
        assert cdr_count(eng) == n
        assert cdr_count(eng, RunIDs=["*default"], OriginHosts=["fs-csv"]) == n
        counters = eng.call("ErSv1.GetReaderCounters", {"ReaderID": "fs_csv"})["fs_csv"]
        # the second run read from the stored watermark on: the replayed records were refused as duplicates
        assert counters["Read"] < n
        assert counters["Processed"] + counters["Duplicates"] == counters["Read"]
        assert counters["Malformed"] == counters["Failed"] == 0
        assert "going on with" in eng.log()
        cdrs = eng.call("CDRsV1.GetCDRs", {"OriginIDs": [f"{run}-{i:07d}" for i in (0, n // 2, n - 1)]})
        assert sorted(c["OriginID"] for c in cdrs) == [f"{run}-{i:07d}" for i in (0, n // 2, n - 1)]
        assert all(c["Cost"] > 0 for c in cdrs)
    finally:
        eng.kill()
    print(f"restart to done: {time.monotonic() - before:.1f}s")


FLATSTORE_FIELDS = [
    {"tag": "Tor", "path": "*cgreq.ToR", "type": "*constant", "value": "*voice"},
    {"tag": "OriginHost", "path": "*cgreq.OriginHost", "type": "*constant", "value": "flatstore"},
    {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.3;~*req.1;~*req.2",
     "mandatory": True},
    {"tag": "RequestType", "path": "*cgreq.RequestType", "type": "*variable", "value": "~*req.7",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "Tenant", "path": "*cgreq.Tenant", "type": "*constant", "value": T},
    {"tag": "Category", "path": "*cgreq.Category", "type": "*constant", "value": "call"},
    {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.8",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "Subject", "path": "*cgreq.Subject", "type": "*variable", "value": "~*req.8",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable", "value": "~*req.9",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "SetupTime", "path": "*cgreq.SetupTime", "type": "*variable", "value": "~*req.6",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "AnswerTime", "path": "*cgreq.AnswerTime", "type": "*variable", "value": "~*req.6",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "EndTime", "path": "*cgreq.EndTime", "type": "*variable", "value": "~*req.6",
     "filters": ["*string:~*req.0:BYE"]},
    {"tag": "Partial", "path": "*opts.*partial", "type": "*constant", "value": "true"},
    {"tag": "Invite", "path": "*opts.invite", "type": "*constant", "value": "true",
     "filters": ["*string:~*req.0:INVITE"]},
    {"tag": "Bye", "path": "*opts.bye", "type": "*constant", "value": "true", "filters": ["*string:~*req.0:BYE"]},
]
FLATSTORE_COMMIT = [
    {"tag": "Usage", "path": "*cgreq.Usage", "type": "*usage_difference", "value": "~*req.EndTime;~*req.AnswerTime",
     "filters": ["*exists:~*opts.invite:", "*exists:~*opts.bye:"]},
    {"tag": "Partial", "path": "*opts.*partial", "type": "*constant", "value": "false",
     "filters": ["*exists:~*opts.invite:", "*exists:~*opts.bye:"]},
]


def test_flatstore_invite_bye_pairs_merge_into_one_cdr(tmp_path, dirs):
    src, out = dirs
    partial_out = tmp_path / "partial"
    reader = {"id": "osips", "type": "*file_csv", "run_delay": "-1", "source_path": str(src),
              "processed_path": str(out), "flags": ["*cdrs"], "fields": FLATSTORE_FIELDS,
              "partial_commit_fields": FLATSTORE_COMMIT,
              "opts": {"csvFieldSeparator": "|", "partialCacheAction": "*dump_to_file",
                       "partialOrderField": "~*req.AnswerTime", "partialPath": str(partial_out)}}
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"partial_cache_ttl": "1s", "readers": [reader]}))
    try:
        # OpenSIPS db_flatstore acc lines: method|from_tag|to_tag|callid|code|reason|time|rtype|account|dest
        drop(tmp_path, src, "acc_1.csv",
             "INVITE|ft1|tt1|call-1|200|OK|1705312800|*rated|1001|33612345678\n"
             "INVITE|ft2|tt2|call-2|200|OK|1705312900|*rated|1002|4912345\n"
             "INVITE|ft3|tt3|call-3|200|OK|1705313000|*rated|1003|15551234\n")
        drop(tmp_path, src, "acc_2.csv",
             "BYE|ft1|tt1|call-1|200|OK|1705312890||\n"
             "BYE|ft2|tt2|call-2|200|OK|1705312930||\n")
        wait_for("both files processed", lambda: (out / "acc_1.csv").exists() and (out / "acc_2.csv").exists(),
                 timeout=30)
        cdrs = {c["OriginID"]: c for c in eng.call("CDRsV1.GetCDRs", {"OriginHosts": ["flatstore"]})}
        assert sorted(cdrs) == ["call-1ft1tt1", "call-2ft2tt2"]
        assert cdrs["call-1ft1tt1"]["Usage"] == 90_000_000_000
        assert cdrs["call-1ft1tt1"]["Account"] == "1001"
        assert cdrs["call-1ft1tt1"]["Cost"] == pytest.approx(0.05 + 90 * 0.12 / 60)
        assert cdrs["call-2ft2tt2"]["Usage"] == 30_000_000_000
        # call-3 never got its BYE: dumped to the partial path once the cache TTL passed
        dumped = list(partial_out.glob("*.tmp"))
        assert len(dumped) == 1 and "call-3ft3tt3" in dumped[0].read_text()
        counters = eng.call("ErSv1.GetReaderCounters", {})["osips"]
        assert counters["Partial"] == 5 and counters["Processed"] == 2
    finally:
        eng.kill()


def test_xml_fwv_and_json_files(tmp_path):
    folders = {k: (tmp_path / k / "in", tmp_path / k / "out") for k in ("xml", "fwv", "json")}
    for a, b in folders.values():
        a.mkdir(parents=True)
        b.mkdir(parents=True)
    common = [{"tag": "ToR", "path": "*cgreq.ToR", "type": "*constant", "value": "*voice"},
              {"tag": "RequestType", "path": "*cgreq.RequestType", "type": "*constant", "value": "*rated"},
              {"tag": "Tenant", "path": "*cgreq.Tenant", "type": "*constant", "value": T},
              {"tag": "Category", "path": "*cgreq.Category", "type": "*constant", "value": "call"}]
    base = "~*req.broadWorksCDR.cdrData.basicModule."
    xml_reader = {"id": "bw", "type": "*file_xml", "run_delay": "-1", "flags": ["*cdrs"],
                  "source_path": str(folders["xml"][0]), "processed_path": str(folders["xml"][1]),
                  "opts": {"xmlRootPath": "broadWorksCDR.cdrData"}, "fields": [*common,
                  {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": base + "localCallId"},
                  {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": base + "userNumber"},
                  {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable",
                   "value": base + "calledNumber"},
                  {"tag": "AnswerTime", "path": "*cgreq.AnswerTime", "type": "*variable",
                   "value": base + "answerTime"},
                  {"tag": "Usage", "path": "*cgreq.Usage", "type": "*usage_difference",
                   "value": f"{base}releaseTime;{base}answerTime"}]}
    fwv_reader = {"id": "fwv", "type": "*file_fwv", "run_delay": "-1", "flags": ["*cdrs"],
                  "source_path": str(folders["fwv"][0]), "processed_path": str(folders["fwv"][1]),
                  "fields": [*common,
                             {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.0-10"},
                             {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.10-14"},
                             {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable",
                              "value": "~*req.14-25"},
                             {"tag": "AnswerTime", "path": "*cgreq.AnswerTime", "type": "*variable",
                              "value": "~*req.25-35"},
                             {"tag": "Usage", "path": "*cgreq.Usage", "type": "*variable", "value": "~*req.35-40;s"},
                             {"tag": "FileSeq", "path": "*cgreq.FileSeq", "type": "*variable", "value": "~*hdr.3-6"},
                             {"tag": "Count", "path": "*cgreq.FileCount", "type": "*variable", "value": "~*trl.3-6"}]}
    json_reader = {"id": "js", "type": "*file_json", "run_delay": "-1", "flags": ["*cdrs"],
                   "source_path": str(folders["json"][0]), "processed_path": str(folders["json"][1]),
                   "fields": [*common, *({"tag": k, "path": f"*cgreq.{k}", "type": "*variable", "value": f"~*req.{k}"}
                                         for k in ("OriginID", "Account", "Destination", "AnswerTime", "Usage"))]}
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"readers": [xml_reader, fwv_reader, json_reader]}))
    try:
        drop(tmp_path, folders["xml"][0], "bw.xml", """<?xml version="1.0"?>
<broadWorksCDR>
 <cdrData><basicModule><localCallId>xml-1</localCallId><userNumber>1001</userNumber>
  <calledNumber>4912345</calledNumber><answerTime>2024-01-15 10:00:05</answerTime>
  <releaseTime>2024-01-15 10:01:05</releaseTime></basicModule></cdrData>
 <cdrData><basicModule><localCallId>xml-2</localCallId><userNumber>1002</userNumber>
  <calledNumber>15550001</calledNumber><answerTime>2024-01-15 10:00:05</answerTime>
  <releaseTime>2024-01-15 10:02:05</releaseTime></basicModule></cdrData>
</broadWorksCDR>""")
        fwv = ["fwv-000001" + "1001" + "33612345678" + "1705312800" + "00060",
               "fwv-000002" + "1002" + "49123456789" + "1705312800" + "00120"]
        drop(tmp_path, folders["fwv"][0], "cdr.fwv", "HDR007\n" + "\n".join(fwv) + "\nTRL002\n")
        drop(tmp_path, folders["json"][0], "one.json", '{"OriginID": "json-1", "Account": "1003", '
             '"Destination": "33699", "AnswerTime": "2024-01-15T10:00:05Z", "Usage": "45s"}')
        wait_for("all files processed", lambda: all((b / n).exists() for (a, b), n in
                                                    zip(folders.values(), ("bw.xml", "cdr.fwv", "one.json"),
                                                        strict=True)))
        cdrs = {c["OriginID"]: c for c in eng.call("CDRsV1.GetCDRs", {})}
        assert sorted(cdrs) == ["fwv-000001", "fwv-000002", "json-1", "xml-1", "xml-2"]
        assert cdrs["xml-1"]["Usage"] == 60_000_000_000 and cdrs["xml-2"]["Usage"] == 120_000_000_000
        assert cdrs["fwv-000001"]["Usage"] == 60_000_000_000 and cdrs["fwv-000001"]["Account"] == "1001"
        assert cdrs["fwv-000002"]["ExtraFields"] == {"FileSeq": "007", "FileCount": "002"}
        assert cdrs["json-1"]["Cost"] == pytest.approx(0.05 + 45 * 0.12 / 60)
    finally:
        eng.kill()
