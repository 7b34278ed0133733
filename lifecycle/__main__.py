"""``python -m lifecycle``: the same as the ``lifecycle`` command."""

import sys

from lifecycle.cli import main

if __name__ == "__main__":
    sys.exit(main())
