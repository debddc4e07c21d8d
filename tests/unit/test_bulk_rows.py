from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.bulk.rows import Mapping, RowError, build_item, parse_when

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023/10/1 14:30", datetime(2023, 10, 1, 14, 30, tzinfo=TZ)),
        ("2023年10月1日", datetime(2023, 10, 1, tzinfo=TZ)),
        ("2023年10月1日 14时30分", datetime(2023, 10, 1, 14, 30, tzinfo=TZ)),
        ("2023-10-01 14:30:05", datetime(2023, 10, 1, 14, 30, 5, tzinfo=TZ)),
        ("2023.10.1", datetime(2023, 10, 1, tzinfo=TZ)),
        ("2023-10-01T06:30:00+00:00", datetime(2023, 10, 1, 14, 30, tzinfo=TZ)),
        (45200.5, datetime(2023, 10, 1, 12, 0, tzinfo=TZ)),  # Excel serial
        (datetime(2023, 10, 1, 8, 0), datetime(2023, 10, 1, 8, 0, tzinfo=TZ)),
    ],
)
def test_chinese_dates(raw: object, expected: datetime) -> None:
    assert parse_when(raw, TZ) == expected


@pytest.mark.parametrize("raw", ["昨天", "2023/13/01", "10月1日"])
def test_bad_dates_are_clear_errors(raw: str) -> None:
    with pytest.raises(RowError):
        parse_when(raw, TZ)


SURVEY = Mapping(
    channel="survey",
    id="问卷编号",
    text="意见建议",
    nps="推荐意愿",
    satisfaction="满意度",
    phone="手机号",
)


def test_survey_row_keeps_nps_and_a_stable_id() -> None:
    row = {
        "问卷编号": "Q1",
        "意见建议": "服务一般",
        "推荐意愿": 3.0,
        "满意度": "不满意",
        "手机号": 13800000001.0,
    }
    item = build_item(row, SURVEY, TZ, NOW)
    assert item.channel == "survey" and item.metadata == {"nps": "3", "satisfaction": "不满意"}
    assert item.customer.phone == "13800000001"
    assert item.source_id == "id:Q1"


def test_rows_without_id_get_a_content_id_stable_across_imports() -> None:
    m = Mapping(text="内容", name="姓名", received_at="时间")
    row = {"内容": "物流慢", "姓名": "张三", "时间": "2023/10/1 14:30"}
    assert build_item(row, m, TZ, NOW).source_id == build_item(dict(row), m, TZ, NOW).source_id
    other = build_item({**row, "内容": "物流很慢"}, m, TZ, NOW)
    assert other.source_id != build_item(row, m, TZ, NOW).source_id


@pytest.mark.parametrize("nps", ["11", "abc", "-1"])
def test_bad_nps_is_a_row_error(nps: str) -> None:
    with pytest.raises(RowError, match="NPS"):
        build_item({"问卷编号": "Q", "意见建议": "x", "推荐意愿": nps}, SURVEY, TZ, NOW)
