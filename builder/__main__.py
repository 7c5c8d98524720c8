"""``python -m builder ...`` is the same as ``modelbuilder ...`` (and works under torchrun)."""

import sys

from builder.cli import main

sys.exit(main())
