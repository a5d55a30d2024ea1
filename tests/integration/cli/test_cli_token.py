"""``strongroom token``: create, lookup, renew, revoke."""

from __future__ import annotations


class TestToken:
    def test_create_and_lookup(self, cli):
        created = cli.json(
            "token", "create", "--policy", "default-readers", "--ttl", "600",
            "--display-name", "ci",
        )  # fmt: skip
        assert created["token"].startswith("strongroom_")
        assert created["policies"] == ["default-readers"]
        assert created["display_name"] == "ci"
        assert created["renewable"] is True
        own = cli.with_token(created["token"])
        assert own.json("token", "lookup")["accessor"] == created["accessor"]
        assert own.json("token", "lookup", "--self")["accessor"] == created["accessor"]
        by_value = cli.json("token", "lookup", "-", input=created["token"] + "\n")
        assert by_value["accessor"] == created["accessor"]
        by_accessor = cli.json("token", "lookup", "--accessor", created["accessor"])
        assert by_accessor["display_name"] == "ci"
        assert "accessor" in cli.ok("token", "lookup", "--accessor", created["accessor"])

    def test_create_table_shows_the_token_once(self, cli):
        result = cli("token", "create", "--ttl", "60")
        assert result.returncode == 0
        assert "strongroom_" in result.stdout
        assert "shown once" in result.stderr

    def test_renew(self, cli, one_line_error):
        created = cli.json("token", "create", "--ttl", "600")
        renewed = cli.json("token", "renew", "--accessor", created["accessor"], "--increment", "60")
        assert renewed["ttl"] <= 60
        assert cli.with_token(created["token"]).json("token", "renew")["ttl"] > 60
        fixed = cli.json("token", "create", "--ttl", "600", "--no-renewable")
        assert fixed["renewable"] is False
        one_line_error(cli("token", "renew", "--accessor", fixed["accessor"]), 2)

    def test_revoke(self, cli, one_line_error):
        by_accessor = cli.json("token", "create", "--ttl", "600")
        cli.ok("token", "revoke", "--accessor", by_accessor["accessor"])
        one_line_error(cli.with_token(by_accessor["token"])("token", "lookup"), 4)

        by_stdin = cli.json("token", "create", "--ttl", "600")
        cli.ok("token", "revoke", "-", input=by_stdin["token"])
        one_line_error(cli.with_token(by_stdin["token"])("token", "lookup"), 4)

        own = cli.json("token", "create", "--ttl", "600")
        cli.with_token(own["token"]).ok("token", "revoke", "--self")
        one_line_error(cli.with_token(own["token"])("token", "lookup"), 4)

    def test_revoke_needs_exactly_one_target(self, cli, one_line_error):
        one_line_error(cli("token", "revoke"), 2)
        one_line_error(cli("token", "revoke", "--self", "--accessor", "acc_x"), 2)

    def test_unknown_accessor_exits_3(self, cli, one_line_error):
        one_line_error(cli("token", "lookup", "--accessor", "acc_nope"), 3)
