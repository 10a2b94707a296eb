"""`python -m playground.everyloss`, the command's old name: every loss's modes over seeds
(the same as `python -m playground.runs.everyloss`)."""

import sys

from playground.runs.everyloss import main

if __name__ == "__main__":
    sys.exit(main())
