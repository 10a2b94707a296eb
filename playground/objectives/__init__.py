"""What the players optimise: losses, regularisers (R1, R2, gradient penalty) and augmentations
(DiffAugment, ADA), each a registry of small pure-torch entries that carry their facts. May import
`views` and nothing above it."""
