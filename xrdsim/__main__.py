"""``python -m xrdsim`` runs the CLI."""

import sys

from xrdsim.cli import main

sys.exit(main())
