"""``python -m ganzoo.cli``: the same entry point as the ``ganzoo`` script."""

from ganzoo.cli import main

if __name__ == "__main__":  # not again when multiprocessing re-imports the main module
    main()
