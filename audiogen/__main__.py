"""`python -m audiogen`: the same as the `audiogen` command."""

import sys

from audiogen.cli import main

sys.exit(main())
