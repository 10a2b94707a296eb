"""GAN Playground's engine: configs, data, models, losses, training, measures and checkpoints.

Pure Python and PyTorch; it never imports streamlit (the pages in `pages/` draw what it computes).
"""

__version__ = "0.1.0"
