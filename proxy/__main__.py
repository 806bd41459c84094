"""``python -m proxy``: the same program as ``s3-resize-proxy``."""

from proxy.cli import main

raise SystemExit(main())
