"""An example third-party ganzoo plugin; the hook implementations are in :mod:`.plugin`."""

__version__ = "0.1.0"
