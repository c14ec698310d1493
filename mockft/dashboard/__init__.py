"""The web dashboard at /dashboard/: jobs, files, models and the operator's actions, as
server-rendered pages over the same service the API runs on. Outside /v1, and matched
after every API route, so an API request never pays for it.

One concept per module: `routes` (pages and forms), `reader` (what a page reads through
the service), `actions` (the operator's control-API calls), `session` (keys, cookies,
CSRF), `render` (templates, headers, fragments), and the pure `jobview` (what a job page
derives from the API's answers), `charts` (SVG) and `examples` (chat bubbles).
"""

from mockft.dashboard.routes import PREFIX, routes

__all__ = ["PREFIX", "routes"]
