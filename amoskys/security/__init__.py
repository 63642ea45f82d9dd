"""Security scanning that works offline: OSV vulnerability matching and secret detection."""
