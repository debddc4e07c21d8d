"""内容摘要 (one line, ≤ 30 characters, the core problem) and keywords. Pure."""

from __future__ import annotations

import re

MAX_SUMMARY = 30
_CLAUSE = re.compile(r"[。！？!?；;\n]+|[,，](?=\s*(但|可是|结果|然而|现在|还是|一直))")
_GREETING = re.compile(
    r"^(您好|你好|hi|hello|在吗|亲|客服|尊敬的.{0,12}|麻烦(问一下|问下)?|打扰一下|请问一下)[,，!！。~\s]*",
    re.I,
)
_PROBLEM_CUES = (
    "失败",
    "闪退",
    "崩溃",
    "无法",
    "不能",
    "没有",
    "没收到",
    "扣",
    "退款",
    "错误",
    "报错",
    "慢",
    "卡",
    "投诉",
    "丢",
    "坏",
    "差",
    "希望",
    "建议",
    "请问",
    "怎么",
    "为什么",
    "不",
    "没",
)


_CUE_RE = re.compile("|".join(map(re.escape, sorted(_PROBLEM_CUES, key=len, reverse=True))))


def _score(clause: str) -> int:
    return len(_CUE_RE.findall(clause))


# Reply/forward prefixes of mail subjects and leading @mentions of social posts.
_PREFIX = re.compile(r"^\s*(((re|fw|fwd|回复|答复|转发)\s*[:：]\s*)+|(@\S+\s*)+)", re.I)


def summarize(text: str) -> str:
    clauses = [
        _PREFIX.sub("", c).strip(" ,，:：") for c in _CLAUSE.split(text) if c and c.strip(" ,，:：")
    ]
    clauses = [
        _GREETING.sub("", c).strip()
        for c in clauses
        if c not in ("但", "可是", "结果", "然而", "现在", "还是", "一直")
    ]
    clauses = [c for c in clauses if len(c) >= 4] or clauses or [text.strip()]
    # The first clause that names a problem; ties go to the earlier one.
    best = max(clauses[:8], key=lambda c: (_score(c) > 0, -clauses.index(c)))
    best = re.sub(r"\s+", " ", best)
    if len(best) <= MAX_SUMMARY:
        return best
    # Prefer ending at a clause boundary over cutting a word in half.
    cut = max(best.rfind(c, 0, MAX_SUMMARY) for c in ",，、;；")
    if cut >= 12:
        return best[:cut]
    return best[: MAX_SUMMARY - 1] + "…"
