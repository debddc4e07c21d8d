"""Top recurring issues as clusters of similar tickets: TF-IDF over jieba
tokens of the summaries, k-means (scikit-learn), each cluster labelled by its
centroid's heaviest terms. The previous period's summaries are assigned to the
same centroids, so a cluster's change is like for like. Pure (no I/O)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import rjieba
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from core.privacy import mask_account, mask_text

# core.privacy.mask_text leaves "账号 wx_canary_8888" as it is (found by the
# canary test): anything shaped like an account id (letters and digits, 6+)
# is masked here too before it can become an example or a label term.
_ID_LIKE = re.compile(
    r"(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z_])[A-Za-z0-9_]{6,64}"
)


def _mask(text: str) -> str:
    return _ID_LIKE.sub(lambda m: mask_account(m.group(0)), mask_text(text))


# Words that say nothing about the issue.
_STOP_WORDS = (
    "的 了 是 我 你 他 她 们 在 也 就 都 还 又 和 与 及 把 被 让 给 跟 对 啊 吗 呢 吧 哦 呀 嘛 "
    "一个 一下 这个 那个 什么 怎么 为什么 没有 不是 可以 已经 现在 今天 昨天 时候 一直 还是 "
    "但是 而且 然后 因为 所以 如果 这样 那么 非常 真的 很 太 有 没 不 能 要 会 说 到 去 来 "
    "上 下 后 前 里 个 次 点 请 您 谢谢 麻烦 一 二 三"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Cluster:
    label: str
    count: int
    share: float
    prev_count: int
    prev_share: float
    examples: tuple[str, ...]  # masked summaries


def _tokens(text: str) -> list[str]:
    return [
        t.lower()
        for t in rjieba.cut(text)
        if len(t.strip()) > 1 and t not in _STOP and not t.isdigit()
    ]


def _sample(texts: Sequence[str], cap: int, seed: int) -> list[str]:
    if len(texts) <= cap:
        return list(texts)
    return random.Random(seed).sample(list(texts), cap)


def top_clusters(
    current: Sequence[str],
    previous: Sequence[str],
    *,
    top: int = 5,
    examples: int = 3,
    sample: int = 20_000,
    seed: int = 7,
) -> list[Cluster]:
    """The ``top`` largest clusters of ``current`` summaries. Shares are of all
    summaries of the period (a uniform sample of ``sample`` is clustered)."""
    # Masked before tokenising: a label's terms come from the text too.
    cur = [_mask(s) for s in _sample(current, sample, seed)]
    if len(cur) < 2:
        return []
    vec = TfidfVectorizer(tokenizer=_tokens, lowercase=False, token_pattern=None, min_df=1)
    try:
        x = vec.fit_transform(cur)
    except ValueError:  # nothing but stop words
        return []
    distinct = len({row.indices.tobytes() for row in x})
    # A few more clusters than shown: small k keeps variants of one issue together.
    k = max(1, min(top + 2, distinct))
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048)
    assign = km.fit_predict(x)
    terms = np.array(vec.get_feature_names_out())
    prev = [_mask(s) for s in _sample(previous, sample, seed)]
    prev_assign = km.predict(vec.transform(prev)) if prev else np.array([], dtype=int)
    sizes = np.bincount(assign, minlength=k)
    prev_sizes = np.bincount(prev_assign, minlength=k) if len(prev) else np.zeros(k, dtype=int)
    dist = km.transform(x)
    out: list[Cluster] = []
    for c in np.argsort(-sizes, kind="stable")[:top]:
        if sizes[c] == 0:
            break
        label = "·".join(terms[np.argsort(-km.cluster_centers_[c])[:3]])
        members = np.where(assign == c)[0]
        closest = members[np.argsort(dist[members, c], kind="stable")]
        seen: list[str] = []
        for i in closest:
            s = cur[i]
            if s not in seen:
                seen.append(s)
            if len(seen) == examples:
                break
        out.append(
            Cluster(
                label=label,
                count=round(int(sizes[c]) * len(current) / len(cur)),
                share=float(sizes[c]) / len(cur),
                prev_count=round(int(prev_sizes[c]) * len(previous) / max(len(prev), 1)),
                prev_share=float(prev_sizes[c]) / len(prev) if prev else 0.0,
                examples=tuple(seen),
            )
        )
    return out
