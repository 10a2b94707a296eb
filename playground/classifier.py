"""`python -m playground.classifier`, the command's old name: train the classifier a labelled
dataset's measures use
(the same as `python -m playground.measures.classifier`)."""

import sys

from playground.measures.classifier import main

if __name__ == "__main__":
    sys.exit(main())
