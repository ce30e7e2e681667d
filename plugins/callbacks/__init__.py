"""Built-in run-lifecycle plugins."""
