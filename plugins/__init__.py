"""ganzoo's built-in plugins, installed as the package ganzoo_plugins and loaded through entry points."""
