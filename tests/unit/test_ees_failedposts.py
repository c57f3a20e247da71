"""Failed posts: payloads appended as they fail, one file per target and ttl, read back for a replay."""

from __future__ import annotations

from pycgrates.engine.ees.failedposts import FailedPosts, FailedTarget, read_failed, write_failed


def test_failed_posts_round_trip(tmp_path):
    target = FailedTarget("*amqp_json_map", "amqp://x", {"amqpQueueID": "q"}, 2, False, "amqp")
    fp = FailedPosts(ttl=60)
    first = fp.add(str(tmp_path), target, [b'{"a":1}', b'{"a":2}'])
    second = fp.add(str(tmp_path), target, [["csv", "row"]])
    assert first == second
    other = fp.add(str(tmp_path), FailedTarget("*sql", "*postgres://", {}, 1, True, "pg"), [{"cols": ["a"]}])
    assert other != first
    assert fp.add("*none", target, [b"x"]) is None
    fp.close()
    back, payloads = read_failed(first)
    assert back == target and payloads == [b'{"a":1}', b'{"a":2}', ["csv", "row"]]
    assert not first.exists()
    write_failed(tmp_path / "again.json", back, payloads[:1])
    assert read_failed(tmp_path / "again.json")[1] == [b'{"a":1}']


def test_a_new_file_after_the_ttl(tmp_path):
    target = FailedTarget("*log", "", {}, 1, False, "log")
    fp = FailedPosts(ttl=0)
    a = fp.add(str(tmp_path), target, [1])
    b = fp.add(str(tmp_path), target, [2])
    fp.close()
    assert a != b and {p.name for p in tmp_path.iterdir()} == {a.name, b.name}
