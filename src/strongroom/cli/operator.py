"""``strongroom operator``: initialise, unseal and seal a vault; and ``strongroom status``.

Shares and passphrases are read from a hidden prompt or stdin unless given as
an argument, and the shares and root token printed by ``init`` are shown once.

Example::

    $ strongroom operator init --shares 3 --threshold 2
    $ strongroom operator unseal            # hidden prompt; repeat with another share
    $ strongroom status                     # exit 0 unsealed, 5 sealed or unreachable
    $ strongroom operator seal
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from strongroom.cli.options import DEFAULT_ADDR, AddrOpt, FieldOpt, FormatOpt, TokenOpt, connect
from strongroom.cli.output import Output, OutputFormat, note
from strongroom.cli.prompting import read_secret
from strongroom.errors import InvalidInput, NotInitialized, Sealed

__all__ = ["app", "status"]

app = typer.Typer(
    help="Initialise, unseal and seal the vault.",
    no_args_is_help=True,
)


def _status_view(st: dict[str, Any]) -> dict[str, Any]:
    """The seal status as people read it (``--format json`` prints the server's own keys)."""
    threshold = st.get("t", 0)
    view: dict[str, Any] = {
        "type": st.get("type"),
        "initialized": st.get("initialized"),
        "sealed": st.get("sealed"),
        "total_shares": st.get("n"),
        "threshold": threshold,
    }
    if st.get("sealed") and threshold:
        view["unseal_progress"] = f"{st.get('progress', 0)}/{threshold}"
        if st.get("nonce"):
            view["unseal_nonce"] = st["nonce"]
    view["version"] = st.get("version")
    view["storage_type"] = st.get("storage_type")
    return view


def _show_status(st: dict[str, Any], out: Output) -> None:
    """Print a seal status: the readable view as a table, the server's document otherwise."""
    out.record(_status_view(st), title="Seal status", full=st)


def status(
    addr: AddrOpt = DEFAULT_ADDR,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Show whether the vault is initialised and sealed (exit 0 unsealed, 5 sealed or down)."""
    with connect(addr, None) as client:
        st = client.get("/v1/sys/seal-status")
    _show_status(st, Output(fmt, field))
    if not st.get("initialized"):
        raise NotInitialized("run `strongroom operator init`")
    if st.get("sealed"):
        raise Sealed("unseal it with `strongroom operator unseal`")


@app.command("init")
def init(
    shares: Annotated[
        int | None,
        typer.Option(
            "--shares", help="Number of key shares to split the root key into.", show_default="5"
        ),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option("--threshold", help="Shares needed to unseal.", show_default="3"),
    ] = None,
    passphrase_stdin: Annotated[
        bool,
        typer.Option(
            "--passphrase-stdin",
            help="Protect the root key with a passphrase (12+ characters) read from stdin "
            "or a hidden prompt, instead of shares.",
        ),
    ] = False,
    addr: AddrOpt = DEFAULT_ADDR,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Initialise a new vault; prints the unseal shares and the root token ONCE."""
    body: dict[str, Any]
    if passphrase_stdin:
        if shares is not None or threshold is not None:
            raise InvalidInput("--passphrase-stdin cannot be combined with --shares/--threshold")
        body = {"passphrase": read_secret("Passphrase", confirm=True)}
    else:
        body = {
            "secret_shares": 5 if shares is None else shares,
            "secret_threshold": 3 if threshold is None else threshold,
        }
    with connect(addr, None) as client:
        result = client.post("/v1/sys/init", body)
    out = Output(fmt, field)
    keys: list[str] = list(result.get("keys") or [])
    if field is not None or fmt is not OutputFormat.TABLE:
        out.record(result)
    else:
        for i, share in enumerate(keys, start=1):
            typer.echo(f"Unseal share {i}: {share}")
        typer.echo(f"Initial root token: {result.get('root_token')}")
    if keys:
        note(
            f"WARNING: these {len(keys)} shares and the root token are shown once and not "
            "stored anywhere. Give each share to a different person and keep them apart; "
            f"any {result.get('secret_threshold')} of them unseal the vault."
        )
    else:
        note(
            "WARNING: the root token is shown once. Keep the passphrase and the token apart; "
            "the passphrase alone unseals the vault."
        )
    note("The vault is sealed: unseal it with `strongroom operator unseal`.")


@app.command("unseal")
def unseal(
    share: Annotated[
        list[str] | None,
        typer.Argument(
            help="One unseal share (its words, quoted or not). Omit it to be asked with a "
            "hidden prompt, or to read one line from stdin when stdin is not a terminal.",
            show_default=False,
            metavar="SHARE",
        ),
    ] = None,
    passphrase: Annotated[
        bool,
        typer.Option(
            "--passphrase",
            help="Unseal with the passphrase (hidden prompt, or one line from stdin).",
        ),
    ] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the shares given so far.")] = False,
    addr: AddrOpt = DEFAULT_ADDR,
    fmt: FormatOpt = OutputFormat.TABLE,
    field: FieldOpt = None,
) -> None:
    """Give one unseal share (or the passphrase); the vault unseals at the threshold."""
    if sum((bool(share), passphrase, reset)) > 1:
        raise InvalidInput("give a share, --passphrase or --reset, not several")
    body: dict[str, Any]
    if reset:
        body = {"reset": True}
    elif passphrase:
        body = {"passphrase": read_secret("Passphrase")}
    else:
        body = {"key": " ".join(share) if share else read_secret("Unseal share")}
    with connect(addr, None) as client:
        st = client.post("/v1/sys/unseal", body)
    _show_status(st, Output(fmt, field))
    if not st.get("sealed"):
        note("The vault is unsealed.")
    elif st.get("t"):
        left = int(st["t"]) - int(st.get("progress", 0))
        note(f"Unseal progress {st.get('progress', 0)}/{st['t']}: {left} more share(s) needed.")


@app.command("seal")
def seal(addr: AddrOpt = DEFAULT_ADDR, token: TokenOpt = None) -> None:
    """Seal the vault: drop every key from memory (needs an operator token)."""
    with connect(addr, token) as client:
        client.post("/v1/sys/seal")
    note("The vault is sealed.")
