"""``strongroom mount`` and ``strongroom tenant``."""

from __future__ import annotations


class TestMount:
    def test_create_list_delete(self, cli, one_line_error):
        cli.ok(
            "mount", "create", "payments", "--description", "payment service", "--max-versions", "5"
        )
        mounts = {m["name"]: m for m in cli.json("mount", "list")}
        assert mounts["payments"]["description"] == "payment service"
        assert mounts["payments"]["max_versions"] == 5
        assert "secret" in mounts
        assert "payments" in cli.ok("mount", "list")
        assert "payments" in cli.ok("mount", "list", "--field", "name").splitlines()
        one_line_error(cli("mount", "create", "payments"), 6)

        cli.ok("kv", "put", "payments/card", "pan=-", input="4111")
        cli.ok("mount", "delete", "payments")
        assert "payments" not in {m["name"] for m in cli.json("mount", "list")}
        one_line_error(cli("kv", "get", "payments/card"), 3)


class TestTenant:
    def test_create_and_list(self, cli, one_line_error):
        created = cli.json("tenant", "create", "acme")
        assert created["tenant"] == "acme"
        assert created["root_token"].startswith("strongroom_")
        assert "acme" in cli.json("tenant", "list")
        assert "acme" in cli.ok("tenant", "list")
        one_line_error(cli("tenant", "create", "acme"), 6)
        # A tenant's root token is not an operator token.
        one_line_error(cli.with_token(created["root_token"])("tenant", "list"), 4)
