"""Backups in S3-compatible object storage: SigV4 against the AWS documentation's own
examples, and listing against a local S3-compatible server (moto's, see
tests/helpers/s3_server.py) that verifies every signature: paging, what is skipped, and one
line for a wrong key, a missing bucket, an unreachable endpoint and a hostile answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from tests.helpers.s3_server import LocalS3
from tests.helpers.servers import RefusingPort, WebServer

from watchkeeper.backup.files import ListingError, list_backups
from watchkeeper.backup.inspect import inspect
from watchkeeper.backup.s3 import EMPTY_SHA256, MAX_PAGE, list_objects, parse_page, sign
from watchkeeper.backup.settings import BackupSpec, S3Spec

EXAMPLE_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
"""The key the S3 API reference signs its examples with."""


def test_sigv4_matches_the_s3_reference_examples() -> None:
    common = {
        "access_key": EXAMPLE_KEY[0],
        "secret_key": EXAMPLE_KEY[1],
        "region": "us-east-1",
        "stamp": "20130524T000000Z",
    }
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    # "Example: GET Object" (with a Range header) and "Example: GET Bucket (List Objects)"
    get_object = sign(
        method="GET",
        path="/test.txt",
        params=[],
        headers={**headers, "Range": "bytes=0-9"},
        **common,
    )
    list_bucket = sign(
        method="GET",
        path="/",
        params=[("max-keys", "2"), ("prefix", "J")],
        headers=headers,
        **common,
    )

    assert get_object.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert list_bucket.endswith(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    )
    assert list_bucket.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
    )


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[LocalS3, str, str]]:
    """The server, a key that may list, and a bucket with backups under ``db/``."""
    server = LocalS3().start()
    try:
        access, secret = server.make_user()
        client = server.client("s3")
        client.create_bucket(Bucket="backups")
        for number in range(7):
            client.put_object(
                Bucket="backups", Key=f"db/orders {number}+é.dump", Body=b"x" * (1000 + number)
            )
        for key in ("db/.hidden", "db/orders 7.dump.part", "db/archive/", "other/x.dump"):
            client.put_object(Bucket="backups", Key=key, Body=b"y")
        server.enforce_signatures()
        yield server, access, secret
    finally:
        server.stop()


def _spec(s3: tuple[LocalS3, str, str], **changes: str) -> S3Spec:
    server, access, secret = s3
    values = {"endpoint": server.endpoint, "bucket": "backups", "prefix": "db/"}
    values |= {"access_key": access, "secret_key": secret} | changes
    return S3Spec(**values)


async def test_signed_listing_pages_through_and_skips_what_is_no_backup(
    s3: tuple[LocalS3, str, str],
) -> None:
    listing = await list_objects(_spec(s3), page_size=2)  # five pages

    assert listing.total == 7
    # uploaded within a second of each other: equal times, so by name
    assert [f.name for f in listing] == [f"orders {n}+é.dump" for n in range(6, -1, -1)]
    assert listing[0].path == "s3://backups/db/orders 6+é.dump"
    assert listing[0].size == 1006


async def test_the_listing_is_capped_but_counted(s3: tuple[LocalS3, str, str]) -> None:
    listing = await list_objects(_spec(s3), page_size=3, limit=2)

    assert listing.total == 7 and len(listing) == 2 and listing.capped


async def test_a_wrong_secret_is_refused_in_one_line(s3: tuple[LocalS3, str, str]) -> None:
    with pytest.raises(ListingError) as raised:
        await list_objects(_spec(s3, secret_key="not-the-secret"))

    assert str(raised.value).startswith("s3://backups/db/: S3 answered 403 (SignatureDoesNotMatch")
    assert "not-the-secret" not in str(raised.value)


async def test_a_missing_bucket_is_one_line(s3: tuple[LocalS3, str, str]) -> None:
    with pytest.raises(ListingError) as raised:
        await list_objects(_spec(s3, bucket="no-such-bucket"))

    assert str(raised.value) == (
        "s3://no-such-bucket/db/: S3 answered 404 (NoSuchBucket: The specified bucket does "
        "not exist)"
    )


async def test_a_backup_monitor_on_s3_judges_age_size_and_count_only(
    s3: tuple[LocalS3, str, str],
) -> None:
    import time

    spec = BackupSpec(s3=_spec(s3), keep=10)

    found = await inspect(spec, now=time.time(), timeout=30)

    assert found.failures == []
    assert found.warnings == ["7 backups kept, fewer than keep: 10"]
    assert found.facts["backup.count"] == 7
    assert found.facts["backup.newest"] == "orders 6+é.dump"
    assert found.facts["backup.size"] == 1006
    assert "backup.format" not in found.facts and found.sanity is None
    assert found.notes == ["object storage: age, size and count only (contents not read)"]
    assert (await list_backups(spec)).total == 7


async def test_an_unreachable_endpoint_is_one_line() -> None:
    with RefusingPort() as port:
        spec = S3Spec(endpoint=port.url(""), bucket="backups")
        with pytest.raises(ListingError) as raised:
            await list_objects(spec)

    assert str(raised.value).startswith(f"s3://backups/: cannot reach {port.url('')}: ")


async def test_an_oversized_answer_is_refused() -> None:
    async def huge(_request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(_request)
        chunk = b"<x>" + b"a" * (1024 * 1024) + b"</x>"
        for _ in range(MAX_PAGE // len(chunk) + 2):
            await response.write(chunk)
        return response

    app = web.Application()
    app.router.add_get("/{bucket}", huge)
    async with WebServer(app) as server:
        with pytest.raises(ListingError, match="larger than 8 MiB"):
            await list_objects(S3Spec(endpoint=server.url(""), bucket="backups"))


def test_an_answer_declaring_entities_is_refused_before_any_expansion() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<ListBucketResult><Contents><Key>&b;</Key><Size>1</Size>"
        b"<LastModified>2024-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>"
    )

    with pytest.raises(ListingError, match="DOCTYPE"):
        parse_page(laughs)


def test_a_page_is_parsed_with_its_namespace_and_continuation() -> None:
    page = parse_page(
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>backups</Name><Prefix>db/</Prefix><KeyCount>1</KeyCount>"
        b"<IsTruncated>true</IsTruncated><NextContinuationToken>t0k</NextContinuationToken>"
        b"<Contents><Key>db/a.dump</Key><LastModified>2024-05-01T02:03:04.000Z</LastModified>"
        b"<ETag>&quot;x&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass>"
        b"</Contents></ListBucketResult>"
    )

    assert page.objects == [("db/a.dump", 123, 1714528984.0)]
    assert page.truncated and page.token == "t0k"
