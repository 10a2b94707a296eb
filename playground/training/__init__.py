"""One GAN step and what drives it: the trainer (single run), the stacked multi-run step,
optimisers, fast paths, devices, the bounded history. May import `measures` and below."""
