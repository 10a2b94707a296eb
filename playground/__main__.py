"""`python -m playground …` is the same as the `gan-playground` command."""

import sys

from playground.cli import main

sys.exit(main())
