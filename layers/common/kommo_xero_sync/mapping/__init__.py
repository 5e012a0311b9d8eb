"""Pure mapping functions between Kommo, the domain and Xero (no I/O)."""
