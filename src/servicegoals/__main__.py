"""``python -m servicegoals``: the command line."""

from servicegoals.cli import main

raise SystemExit(main())
