"""The lessons as data, their measured claims, the Dirac-GAN and the PacGAN reproduction.
May import `runs` and below. `python -m playground.lessons` measures the lessons' claims."""
