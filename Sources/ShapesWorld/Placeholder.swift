// Placeholder until the shapes-world helper lands its files.
enum ShapesWorldPlaceholder {}
