"""GAN Playground's engine: configs, data, models, losses, training, measures and checkpoints.

Pure Python and PyTorch; it never imports streamlit (the pages in `pages/` draw what it computes).
"""

import os

# PyTorch's CPU kernels run on OpenMP threads that, by default, spin while they wait for work.
# When anything else wants the CPU (the app's server thread, a second run, another program)
# the spinning threads and the working ones fight for cores: measured on a 2-core machine with
# one other busy process, ring8-stable fell from 133 to 6 steps/s. Passive waiting avoids that
# and costs nothing measurable on an idle machine. It must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
