"""``strongroom keys``: rotate, rewrap (resumable), status and retire."""

from __future__ import annotations

import httpx


def _by_version(rows):
    return {row["version"]: row for row in rows}


class TestKeys:
    def test_rotate_rewrap_status_retire(self, cli, http: httpx.Client, one_line_error):
        for i in range(5):
            cli.ok("kv", "put", f"secret/keys/r{i}", "v=-", input=f"value {i}")
        before = _by_version(cli.json("keys", "status"))
        assert before[1]["current"] is True
        assert before[1]["records"] >= 5

        assert cli.json("keys", "rotate") == {"version": 2}
        status = _by_version(cli.json("keys", "status"))
        assert status[2]["current"] is True
        assert status[1]["records"] == before[1]["records"]

        # An interrupted run: one batch was done, then the command was stopped.
        first = http.post("/v1/sys/keys/rewrap", json={"batch_size": 2}).json()
        assert first["rewrapped"] == 2
        assert first["remaining"] > 0

        totals = cli.json("keys", "rewrap", "--batch-size", "2")
        assert totals["rewrapped"] == first["remaining"]
        assert totals["remaining"] == 0
        assert totals["batches"] >= 2

        # Running it again finds nothing left to do.
        again = cli.json("keys", "rewrap")
        assert again == {"rewrapped": 0, "remaining": 0, "batches": 1}

        after = _by_version(cli.json("keys", "status"))
        assert after[1]["records"] == 0
        assert after[1]["subjects"] == 0
        assert after[2]["records"] >= 5

        table = cli.ok("keys", "status")
        for column in ("version", "current", "retired", "encryptions", "records", "subjects"):
            assert column in table

        line = one_line_error(cli("keys", "retire", "--version", "2"), 6)
        assert "current KEK version cannot be retired" in line

        cli.ok("keys", "retire", "--version", "1")
        assert _by_version(cli.json("keys", "status"))[1]["retired"] is True
        # Data written before the rotation still reads.
        assert cli.ok("kv", "get", "secret/keys/r3", "--field", "v") == "value 3"

    def test_retire_a_version_with_dependents_exits_6(self, cli, one_line_error):
        cli.ok("kv", "put", "secret/keys/dep", "v=1")
        current = next(r for r in cli.json("keys", "status") if r["current"])["version"]
        cli.json("keys", "rotate")
        line = one_line_error(cli("keys", "retire", "--version", str(current)), 6)
        assert "keys rewrap" in line
        cli.ok("keys", "rewrap")
        cli.ok("keys", "retire", "--version", str(current))

    def test_unknown_version_exits_6(self, cli, one_line_error):
        one_line_error(cli("keys", "retire", "--version", "999"), 6)
