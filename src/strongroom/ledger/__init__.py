"""The tamper-evident audit ledger: RFC 9162 Merkle tree, proofs and signed checkpoints.

Pure logic: hashing, proof construction over a node store, proof verification
and the C2SP signed-note checkpoint format. Persistence lives in
:mod:`strongroom.storage`; the vault writes entries in the same unit of work
as the change they describe.
"""

__all__: list[str] = []
