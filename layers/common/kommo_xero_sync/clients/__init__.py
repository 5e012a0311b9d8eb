"""HTTP clients for Kommo and Xero: the only modules that talk HTTP."""
