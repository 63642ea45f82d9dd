"""The seed's stages as commands: `amoskys lint`, `amoskys security-scan`, `amoskys test`."""
