"""mockft: a local, offline, deterministic stand-in for the OpenAI fine-tuning API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> object:
    # Imported lazily so that `import mockft` (the CLI, the pytest plugin) stays cheap.
    if name == "create_app":
        from mockft.app import create_app

        return create_app
    raise AttributeError(name)
