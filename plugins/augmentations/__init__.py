"""Built-in augmentations of the discriminator's inputs: DiffAugment, ADA and x-flips."""
