import sys

from gamekeys_cli.main import main

sys.exit(main())
