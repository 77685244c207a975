"""``python -m memharness_s3.cli``: the ``memharness`` command, for launching it by interpreter."""

import sys

from memharness_s3.cli import main

sys.exit(main())
