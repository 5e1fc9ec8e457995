"""`python -m streams.cli …` is `rasid …`."""

import sys

from streams.cli.main import main

sys.exit(main())
