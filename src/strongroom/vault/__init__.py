"""Service layer: records, tokens, policies, keys and seal state.

Example::

    >>> from strongroom.vault import Vault
    >>> Vault.__name__
    'Vault'
"""

from strongroom.vault.principal import SYSTEM_TENANT, Principal
from strongroom.vault.service import InitResult, Vault

__all__ = ["SYSTEM_TENANT", "InitResult", "Principal", "Vault"]
