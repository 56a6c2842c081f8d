import sys

from pilotctl.cli import main

sys.exit(main())
