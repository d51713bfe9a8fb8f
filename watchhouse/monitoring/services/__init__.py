"""Monitoring's writes, one module per concern; import from the module itself."""
