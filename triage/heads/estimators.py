"""The estimators the heads use, as module-level factories (they pickle)."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, RidgeClassifier


def logistic(c: float = 10.0) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")


def calibrated_ridge() -> CalibratedClassifierCV:
    # Measured on the labeled data (5-fold CV): for type and sentiment a ridge
    # classifier with sigmoid calibration beats logistic regression on
    # macro-F1 (0.881 vs 0.866, 0.843 vs 0.811) and its confidences are far
    # closer to observed accuracy (ECE 0.14 vs 0.29, 0.03 vs 0.10). For priority
    # plain logistic regression stays ahead (0.713 vs 0.688 before the rules).
    # ensemble=False: one ridge fit on all data, calibrated on cross-validated
    # scores; one model to evaluate per message instead of five.
    return CalibratedClassifierCV(
        RidgeClassifier(alpha=0.5, class_weight="balanced"), cv=5, method="sigmoid", ensemble=False
    )
