"""The classifier interface triage depends on, and the transparent keyword
baseline used when no trained model bundle is configured."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from models.vocabulary import FeedbackType, Priority, Sentiment


@dataclass(frozen=True)
class Prediction:
    type: FeedbackType
    type_confidence: float
    priority: Priority
    priority_confidence: float
    sentiment: Sentiment
    sentiment_score: float  # in [-1, 1]
    sentiment_confidence: float
    keywords: tuple[str, ...] = ()
    # The runner-up type, so that an unsure "spam" can stay a ticket.
    type_alternative: FeedbackType | None = None
    # Heads beyond the core three (triage/heads/): name -> label.
    labels: dict[str, str] = field(default_factory=dict)
    # The model's probability of P1, whatever label it chose (the rules of
    # priority.yaml use it).
    p1_probability: float = 0.0


class Classifier(Protocol):
    version: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


# Keyword baseline: each type scores the cues it finds; ties go to the order below.
_TYPE_CUES: dict[FeedbackType, tuple[str, ...]] = {
    "spam": (
        "加微信",
        "加v",
        "加q",
        "兼职",
        "刷单",
        "日赚",
        "代开发票",
        "领红包",
        "免费领",
        "点击链接",
        "测试测试",
        "asdf",
    ),
    "praise": (
        "表扬",
        "感谢",
        "谢谢你们",
        "很耐心",
        "点赞",
        "好评",
        "非常满意",
        "给力",
        "贴心",
        "专业",
        "赞",
    ),
    "complaint": (
        "投诉",
        "态度",
        "不理",
        "敷衍",
        "承诺",
        "欺骗",
        "骗",
        "差评",
        "不满",
        "退钱",
        "拖延",
        "推诿",
        "一直没人",
    ),
    "bug": (
        "闪退",
        "崩溃",
        "报错",
        "失败",
        "打不开",
        "白屏",
        "黑屏",
        "无法",
        "不能",
        "异常",
        "bug",
        "错误",
        "卡死",
        "扣了两次",
        "没反应",
        "显示不",
    ),
    "ux": (
        "太慢",
        "卡顿",
        "加载",
        "麻烦",
        "步骤",
        "繁琐",
        "找不到",
        "不方便",
        "难用",
        "字太小",
        "复杂",
        "体验",
    ),
    "suggestion": (
        "建议",
        "希望",
        "能不能增加",
        "可否",
        "如果能",
        "增加",
        "支持一下",
        "新增",
        "最好能",
    ),
    "inquiry": (
        "请问",
        "怎么",
        "如何",
        "什么时候",
        "是否",
        "吗?",
        "吗？",
        "多久",
        "哪里",
        "能否告知",
    ),
}
_NEG = (
    "差",
    "烂",
    "垃圾",
    "失望",
    "生气",
    "无语",
    "坑",
    "气死",
    "投诉",
    "不满",
    "糟糕",
    "退款",
    "闪退",
    "失败",
    "骗",
    "恶心",
    "太慢",
)
_POS = (
    "满意",
    "感谢",
    "谢谢",
    "好用",
    "棒",
    "赞",
    "喜欢",
    "点赞",
    "方便",
    "耐心",
    "给力",
    "不错",
    "贴心",
)
_DEFAULT_PRIORITY: dict[FeedbackType, Priority] = {
    "bug": "P2",
    "ux": "P3",
    "suggestion": "P4",
    "complaint": "P3",
    "inquiry": "P4",
    "praise": "P4",
    "spam": "P4",
}


class KeywordClassifier:
    """Transparent rules: every decision can be read off the tables above."""

    version = "keyword-baseline-1"

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._one(t.lower()) for t in texts]

    def _one(self, text: str) -> Prediction:
        scores = {t: sum(text.count(c) for c in cues) for t, cues in _TYPE_CUES.items()}
        best: FeedbackType = max(scores, key=lambda t: scores[t])
        total = sum(scores.values())
        if scores[best] == 0:
            best, conf = "inquiry" if re.search(r"[?？吗]", text) else "complaint", 0.34
        else:
            conf = scores[best] / total
        neg = sum(text.count(w) for w in _NEG)
        pos = sum(text.count(w) for w in _POS)
        score = math.tanh((pos - neg) / 2)
        label: Sentiment = "positive" if score > 0.3 else "negative" if score < -0.3 else "neutral"
        return Prediction(
            type=best,
            type_confidence=round(conf, 4),
            priority=_DEFAULT_PRIORITY[best],
            priority_confidence=0.5,
            sentiment=label,
            sentiment_score=round(score, 4),
            sentiment_confidence=round(0.5 + abs(score) / 2, 4),
        )
