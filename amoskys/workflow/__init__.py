"""The GitHub Actions front end: YAML to model, expressions, events and filters."""
