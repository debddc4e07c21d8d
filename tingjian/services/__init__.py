"""One module per service, each with ``build(settings, ...) -> Service``."""
