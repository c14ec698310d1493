"""Wire shapes: every object as the API writes it, built in one place.

One module per resource (jobs, events and checkpoints, files and uploads, models, chat and
completions). Services return typed records; routes hand them to a function here and
serialise what it returns. A fidelity fix to a shape is one edit in this package.
"""
