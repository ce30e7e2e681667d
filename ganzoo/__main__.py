"""``python -m ganzoo``: the same as the ``ganzoo`` command."""

from ganzoo.cli import main

if __name__ == "__main__":  # not again when multiprocessing re-imports the main module
    main()
