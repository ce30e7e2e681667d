"""Built-in regularizers: gradient penalties, LeCam and consistency regularization."""
