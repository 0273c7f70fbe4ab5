import sys

from sarco_core.cli import main

sys.exit(main())
