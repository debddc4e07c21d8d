"""The web-form connector: ``POST /v1/feedback`` and the embeddable ``/form`` page."""
