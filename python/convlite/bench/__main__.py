"""`python -m convlite.bench [--quick] [--only ROW] [--json FILE] [--markdown] [--repeats N] [--threads N]`."""
import sys

from .runner import main

sys.exit(main())
