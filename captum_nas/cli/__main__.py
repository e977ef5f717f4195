"""``python -m captum_nas.cli`` (and ``torchrun -m captum_nas.cli``): the ``captum-nas`` command."""

import sys

from captum_nas.cli import main

if __name__ == "__main__":
    sys.exit(main())
