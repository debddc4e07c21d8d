"""Priority P1-P4 (SPEC §5), before the explicit escalation rules."""

from models.vocabulary import PRIORITIES
from triage.heads import Head, field_label
from triage.heads.estimators import logistic

HEAD = Head("priority", PRIORITIES, logistic, field_label("priority"))
