"""Report a problem with photos: type by magic bytes, size, count and names; refusals store nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.config import get_settings
from app.resolutions import uploads
from app.resolutions.models import Resolution
from app.status.tokens import token_for
from tests.notifications.helpers import events, paid_order
from tests.resolutions.helpers import JPEG, PNG, WEBP, delivered, report


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "uploads_dir", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def _stored(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _count(db, order) -> int:
    return db.scalar(select(func.count()).select_from(Resolution).where(Resolution.order_id == order.id))


@pytest.mark.parametrize(("data", "kind"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")])
def test_sniff_by_magic_bytes(data, kind):
    assert uploads.sniff(data) == kind
    assert uploads.sniff(b"GIF89a" + data) is None


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.png", "..\\\\win.png", "/abs/path.png", ".hidden.png", "a\\x00b.png", "tab\\there.png"]
)
def test_path_tricks_in_names_are_refused(name):
    with pytest.raises(uploads.UploadRejected) as refused:
        uploads.check(name.encode().decode("unicode_escape"), PNG)
    assert refused.value.code == "upload.bad_name"


def test_report_with_photos_is_stored_under_random_names(db, client, make_shop, upload_dir):
    shop = make_shop()
    order = paid_order(db, shop)
    delivered(db, order)
    files = [("photos", ("IMG 0001.JPG", JPEG, "image/jpeg")), ("photos", ("box.png", PNG, "image/png"))]
    response = report(client, token_for(order), files=files)
    assert response.status_code == 303, response.text
    (resolution,) = db.scalars(select(Resolution).where(Resolution.order_id == order.id)).all()
    assert [p["type"] for p in resolution.photos] == ["image/jpeg", "image/png"]
    stored = _stored(upload_dir)
    assert sorted(p["name"] for p in resolution.photos) == stored
    assert all(len(name.split(".")[0]) == 32 for name in stored)  # random, never the customer's
    (reported,) = events(order.id, "resolution.reported")
    assert reported.personal["photo_names"] == ["IMG 0001.JPG", "box.png"]
    assert "IMG 0001.JPG" not in str(reported.data) and "Cracked" not in str(reported.data)


@pytest.mark.parametrize(
    ("files", "status", "phrase"),
    [
        ([("photos", ("big.jpg", JPEG + b"\0" * (5 * 1024 * 1024), "image/jpeg"))], 413, "larger than 5 MB"),
        ([("photos", ("doc.png", b"%PDF-1.7 not an image", "image/png"))], 400, "Only JPEG, PNG and WebP"),
        ([("photos", ("../../../etc/cron.d/x.png", PNG, "image/png"))], 400, "file name is not allowed"),
        ([("photos", (f"p{i}.png", PNG, "image/png")) for i in range(6)], 400, "At most 5 photos"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(db, client, make_shop, upload_dir, files, status, phrase):
    shop = make_shop()
    order = paid_order(db, shop)
    delivered(db, order)
    response = report(client, token_for(order), message="Keep my words", files=files)
    assert response.status_code == status
    assert phrase in response.text
    assert "Keep my words" in response.text  # the customer's message is not lost
    assert _stored(upload_dir) == [] and _count(db, order) == 0
    assert events(order.id, "resolution.") == []
    # The server keeps serving: a valid report right after works.
    assert report(client, token_for(order), files=[("photos", ("ok.webp", WEBP, "image/webp"))]).status_code == 303


def test_refusal_in_the_customers_language(db, client, make_shop, upload_dir):
    shop = make_shop()
    order = paid_order(db, shop, locale="de")
    response = report(client, token_for(order), lang="de",
                      files=[("photos", ("x.png", b"not an image", "image/png"))])
    assert response.status_code == 400
    assert "Es können nur JPEG-, PNG- und WebP-Fotos gesendet werden." in response.text


def test_bad_token_or_reason(db, client, make_shop, upload_dir):
    shop = make_shop()
    order = paid_order(db, shop)
    assert report(client, "x" * 44).status_code == 404
    bad = report(client, token_for(order), reason="i_want_it_free")
    assert bad.status_code == 400 and "Please choose what happened." in bad.text
