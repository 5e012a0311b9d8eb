"""kommo_xero_sync: the shared layer of the Kommo <-> Xero sync (models, mapping, API clients, data access, config)."""

__version__ = "0.1.0"
