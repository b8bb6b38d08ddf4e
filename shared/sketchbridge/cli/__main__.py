"""``python -m sketchbridge.cli``: the same as the ``sketchbridge`` command."""

import sys

from sketchbridge.cli.main import main

sys.exit(main())
