"""``python -m serverless_patterns.local serve ...``."""

from __future__ import annotations

import sys

from serverless_patterns.local.cli import main

sys.exit(main())
