"""Bybit v5 (linear and inverse) as one venue package: see ``plugin``."""
