"""`python -m lindyn`: the default derivation + verification report (see `lindyn.cli`)."""
import sys

from .cli import main

sys.exit(main())
