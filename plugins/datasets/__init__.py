"""Built-in data sources: offline datasets that need no download."""
