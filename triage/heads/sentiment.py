"""Sentiment, three classes; the score is P(positive) - P(negative)."""

from models.vocabulary import SENTIMENTS
from triage.heads import Head, field_label
from triage.heads.estimators import calibrated_ridge

HEAD = Head("sentiment", SENTIMENTS, calibrated_ridge, field_label("sentiment"))
