"""Strongroom benchmark suite: ``python -m bench.run`` (or ``make bench``).

Every benchmark compares Strongroom against a peer or a physical limit that is
measured in the same run, and reports the ratio, because absolute numbers on a
shared two-core machine are noisy. Results go to stdout as one JSON document;
progress goes to stderr; ``docs/performance.md`` is rewritten with the numbers.

Modules:

* :mod:`bench.run` - the entry point (``--quick``, ``--only NAME``);
* :mod:`bench.envelope` - in-process envelope seal/open versus raw AES-GCM;
* :mod:`bench.writes` - durable writes over HTTP, group commit versus none;
* :mod:`bench.reads` - reads over HTTP, flat out and at a fixed rate;
* :mod:`bench.rewrap` - re-wrapping a million DEKs after a KEK rotation;
* :mod:`bench.audit` - audit ledger: durable appends, proofs over a million
  entries, the cost of auditing on kv.put/kv.get;
* :mod:`bench.audit_verify` - verifying a million-entry offline audit bundle;
* :mod:`bench.backup` - backups side by side with restic and borg, same vault;
* :mod:`bench.subjects` - erasing a data subject, and sealing under subject keys;
* :mod:`bench.ledger_data` - realistic canonical audit entries, fast;
* :mod:`bench.loadgen` - a lean asyncio HTTP/1.1 keep-alive load generator;
* :mod:`bench.server` - a dev-mode server for the HTTP benchmarks;
* :mod:`bench.machine`, :mod:`bench.stats`, :mod:`bench.report` - support.
"""
