"""Plan stage: genres, the style library and training data, and the drum transformer."""
