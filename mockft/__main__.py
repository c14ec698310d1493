from __future__ import annotations

from mockft.cli import main

raise SystemExit(main())
