"""Bulk import against the real broker and database: once only, bad rows reported."""

from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from core.kafka import make_producer, send_all
from ingest.bulk.importer import import_file, load_mapping
from ingest.checkpoints import CheckpointStore
from models import FeedbackReceived
from tests.helpers import kafka_topics
from tests.integration.test_email_imap import _drain

TZ = ZoneInfo("Asia/Shanghai")


def _xlsx(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["问卷编号", "意见建议", "推荐意愿", "满意度", "姓名", "手机号", "提交时间"])
    ws.append(["S1", "客服回复太慢", 3, "不满意", "张三", 13800000001, "2023/10/1 14:30"])
    ws.append(["S2", "整体不错", 9, "满意", "李四", 13800000002, "2023年10月2日"])
    ws.append(["S3", "", 5, "一般", "王五", 13800000003, "2023-10-03"])
    ws.append(["S4", "物流快", 12, "满意", "赵六", 13800000004, "2023-10-04"])
    ws.append([None, None, None, None, None, None, None])
    wb.save(path)
    return path


def test_excel_survey_import_once_with_bad_rows_reported(
    kafka_bootstrap: str, fresh_db: str, topic_prefix: str, tmp_path: Path
) -> None:
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix)
    producer = make_producer(cfg)
    store = CheckpointStore(fresh_db, "import")
    path = _xlsx(tmp_path / "回访问卷.xlsx")

    def run():
        return import_file(
            path,
            load_mapping("survey"),
            store=store,
            send=lambda o: send_all(producer, o, 30),
            topics=topics,
            hash_key="k" * 16,
            tz=TZ,
        )

    first = run()
    assert (first.rows, first.produced, first.already_imported) == (4, 2, 0)
    assert [b["row"] for b in first.bad] == [4, 5]
    assert "empty" in first.bad[0]["error"] and "NPS" in first.bad[1]["error"]
    again = run()
    assert (again.produced, again.already_imported) == (0, 2)
    items = [
        FeedbackReceived.model_validate_json(v) for v in _drain(topics.received, kafka_bootstrap, 2)
    ]
    assert sorted(i.source_id for i in items) == ["id:S1", "id:S2"]
    s1 = next(i for i in items if i.source_id == "id:S1")
    assert s1.metadata["nps"] == "3" and s1.channel == "survey"
    assert s1.received_at.isoformat() == "2023-10-01T14:30:00+08:00"
