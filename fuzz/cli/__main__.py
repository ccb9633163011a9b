"""`python -m fuzz.cli`: the `swapdiff` command."""

import sys

from fuzz.cli.main import main

sys.exit(main())
