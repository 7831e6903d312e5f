// The world's draws come from the shared seeded generator; users of the world get it with `import ShapesWorld`.
@_exported import SeededRandom
