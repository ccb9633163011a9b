"""`python -m fuzz.cli`: the `swapdiff` command."""

import sys

from fuzz.cli.command import main

sys.exit(main())
