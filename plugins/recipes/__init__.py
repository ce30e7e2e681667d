"""Built-in recipes: published training setups, as data (see ``ganzoo recipes``)."""
