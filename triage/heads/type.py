"""Feedback type (SPEC §4)."""

from models.vocabulary import TYPES
from triage.heads import Head, field_label
from triage.heads.estimators import calibrated_ridge

HEAD = Head("type", TYPES, calibrated_ridge, field_label("type"))
