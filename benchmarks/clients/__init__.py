"""Third-party clients run against mockft by hand (issue 12's bar): see README.md."""
