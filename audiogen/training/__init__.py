"""Training: the material, loops and configs that fit audiogen's models. It imports the inference
modules (models, checkpoints, the sampler); nothing that generates a beat imports it."""
