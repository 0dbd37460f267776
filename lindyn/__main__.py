"""`python -m lindyn`: the default derivation + verification report (`lindyn verify`, see `lindyn.cli`)."""
import sys

from .cli import main

sys.exit(main(default_command="verify"))
