"""Tingjian 听见: customer feedback from every channel into the CRM, triaged."""

__version__ = "0.1.0"
