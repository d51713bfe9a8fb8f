"""Where public posts come from: one connector per open protocol or official API."""
