"""The package version, in a module of its own so the engine can record it without importing the public facade."""

__version__ = "0.1.0"
