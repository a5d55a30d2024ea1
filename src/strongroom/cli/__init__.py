"""The ``strongroom`` command line: a thin HTTP client over the API, plus ``server``.

Each command group lives in its own module (``kv``, ``operator``, ``token``,
``policy``, ``keys``, ``mount``, ``tenant``) and is joined in
:mod:`strongroom.cli.main`. Errors are printed as one line and mapped to exit
codes (see ``docs/cli.md``).

Example::

    $ export STRONGROOM_ADDR=http://127.0.0.1:8200 STRONGROOM_TOKEN=strongroom_…
    $ strongroom status && strongroom kv get secret/app/db --field password
"""

__all__: list[str] = []
