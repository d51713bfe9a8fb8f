"""Monitoring's reads, one module per concern; import from the module itself."""
