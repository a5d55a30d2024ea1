"""Unit tests of :mod:`strongroom.crypto`."""
