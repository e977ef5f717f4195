"""``python -m captum_nas.cli``: the ``captum-nas`` command."""

import sys

from captum_nas.cli import main

sys.exit(main())
