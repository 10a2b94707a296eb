"""`python -m playground.lessons --seeds N`: measure every lesson's claim (see `claims`)."""

import sys

from playground.lessons.claims import main

sys.exit(main())
