import io
import json
import logging

from core.logs import JsonFormatter
from core.privacy import customer_key, mask_email, mask_phone, mask_text


def test_masks_follow_spec_format() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_email("wang@example.com") == "w***@example.com"


def test_mask_text_finds_phones_and_emails_in_prose() -> None:
    out = mask_text("请联系13812345678或者+86 139-0000-1111，邮箱 li.na@example.com")
    assert "13812345678" not in out and "li.na@" not in out and "0000-1111" not in out
    assert "138****5678" in out and "l***@example.com" in out


def test_customer_key_is_keyed_and_normalised() -> None:
    a = customer_key("key-one-123", phone="+86 138-1234-5678", email=None, account=None)
    b = customer_key("key-one-123", phone="13812345678", email=None, account=None)
    c = customer_key("key-two-456", phone="13812345678", email=None, account=None)
    assert a == b and a != c
    assert "13812345678" not in (a or "")
    assert customer_key("k" * 8, phone=None, email=None, account=None) is None


def test_log_lines_are_json_and_masked() -> None:
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.setFormatter(JsonFormatter())
    log = logging.getLogger("t.privacy")
    log.addHandler(h)
    log.propagate = False
    log.warning("customer %s wrote", "13812345678", extra={"contact": "zhang.san@example.com"})
    line = buf.getvalue().strip()
    doc = json.loads(line)
    assert doc["msg"] == "customer 138****5678 wrote"
    assert doc["contact"] == "z***@example.com"


def test_account_ids_are_masked_in_prose_by_the_word_that_announces_them() -> None:
    from core.privacy import mask_account

    out = mask_text("我的账号是 wx_zhang88，UID: 1234567890，Account=user_9981")
    assert "wx_zhang88" not in out and "1234567890" not in out and "user_9981" not in out
    assert "wx****88" in out and "12****90" in out
    assert mask_account("abc") == "****"
    # Not accounts: a version number, a word that merely contains "id".
    kept = "版本id 3.2.1 在 android12345 上闪退"
    assert mask_text(kept) == kept


def test_mask_record_masks_contact_keys_whatever_their_shape() -> None:
    from core.privacy import mask_record

    doc = {
        "customer": {"name": "王先生", "account": "qq_778899", "phone": "13812345678"},
        "items": [{"customer_email": "li.na@example.com"}, "回电 13912345678"],
        "count": 3,
    }
    out = json.dumps(mask_record(doc), ensure_ascii=False)
    for raw in ("qq_778899", "13812345678", "li.na@example.com", "13912345678"):
        assert raw not in out
    assert '"name": "王先生"' in out and '"count": 3' in out and "qq****99" in out


def test_words_after_account_are_not_taken_for_ids() -> None:
    kept = "Account hacked - please lock it, my ID card was stolen"
    assert mask_text(kept) == kept
