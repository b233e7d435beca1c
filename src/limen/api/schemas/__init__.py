"""Wire shapes of the native API, named for the direction data travels."""
