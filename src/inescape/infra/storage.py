"""Object storage: S3 (or MinIO) via boto3, or a local folder with the same bucket/key layout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from inescape.kernel.errors import ConfigurationError, Invalid, NotFound, Unavailable

BUCKETS = ("images", "models", "datasets")
_KEY = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._\-/=+]{1,900}\Z")
PART_SIZE = 8 * 1024 * 1024  # S3 multipart minimum is 5 MiB; 8 MiB keeps memory bounded
SSE_MODES = ("AES256", "aws:kms", "aws:kms:dsse")
T = TypeVar("T")


def sse_arguments(mode: str | None, kms_key_id: str | None = None) -> dict[str, str]:
    """What ``put_object`` and ``create_multipart_upload`` send to ask for server-side
    encryption: ``AES256`` (SSE-S3), ``aws:kms`` (SSE-KMS, optionally with a key id), or
    none (``None``, ``""`` or ``"none"``, for S3-compatible servers without a KMS)."""
    if mode is None or mode.strip().lower() in ("", "none"):
        if kms_key_id:
            raise ConfigurationError("INESCAPE_S3_SSE_KMS_KEY_ID", "needs INESCAPE_S3_SSE=aws:kms")
        return {}
    if mode not in SSE_MODES:
        raise ConfigurationError("INESCAPE_S3_SSE", f"expected none or one of {', '.join(SSE_MODES)}")
    if kms_key_id and not mode.startswith("aws:kms"):
        raise ConfigurationError("INESCAPE_S3_SSE_KMS_KEY_ID", "only used with INESCAPE_S3_SSE=aws:kms")
    return {"ServerSideEncryption": mode} | ({"SSEKMSKeyId": kms_key_id} if kms_key_id else {})


async def single_chunk(data: bytes) -> AsyncIterator[bytes]:
    """``data`` as a one-chunk stream: ``put`` is ``put_stream`` of one chunk in every store."""
    yield data


def check_location(bucket: str, key: str) -> None:
    if bucket not in BUCKETS:
        raise Invalid(f"unknown bucket {bucket!r}; use one of {', '.join(BUCKETS)}")
    if not _KEY.match(key):
        raise Invalid(f"object key {key!r} is not allowed (no '..', '//' or leading '/')")


class S3ObjectStore:
    """Objects are written asking for server-side encryption (``AES256`` unless told otherwise)."""

    backend = "s3"

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        region: str,
        bucket_prefix: str = "",
        access_key: str | None = None,
        secret_key: str | None = None,
        server_side_encryption: str | None = "AES256",
        kms_key_id: str | None = None,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        max_attempts: int = 2,
    ) -> None:
        self._sse = sse_arguments(server_side_encryption, kms_key_id)
        self._abandoned: dict[tuple[str, str, str | None], None] = {}  # uploads to abort when S3 answers
        self._aborting: asyncio.Task[None] | None = None
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(  # bounded: a silent server is a 503 within seconds, not minutes
                connect_timeout=connect_timeout_s,
                read_timeout=read_timeout_s,
                retries={"mode": "standard", "total_max_attempts": max(max_attempts, 1)},
                s3={"addressing_style": "path"},
            ),
        )
        self._prefix = bucket_prefix

    def bucket_name(self, bucket: str) -> str:
        return f"{self._prefix}{bucket}"

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(partial(fn, *args, **kwargs))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchUpload", "404", "NotFound"):
                raise NotFound("object not found") from exc
            raise Unavailable(
                "Object storage (S3) refused the request; try again shortly.", backend="s3"
            ) from exc
        except (BotoCoreError, OSError) as exc:
            raise Unavailable(
                "Object storage (S3) is unreachable; try again shortly.", backend="s3", retry_after=5
            ) from exc

    async def ensure_buckets(self) -> None:
        existing = await self._call(self._client.list_buckets)
        names = {b["Name"] for b in existing.get("Buckets", [])}
        for bucket in BUCKETS:
            if self.bucket_name(bucket) not in names:
                await self._call(self._client.create_bucket, Bucket=self.bucket_name(bucket))

    async def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        check_location(bucket, key)
        await self._call(
            self._client.put_object,
            Bucket=self.bucket_name(bucket),
            Key=key,
            Body=data,
            ContentType=content_type,
            **self._sse,
        )

    async def put_stream(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str = "application/octet-stream",
    ) -> int:
        """Multipart upload in parts of ``PART_SIZE``: memory stays bounded by one part."""
        check_location(bucket, key)
        name = self.bucket_name(bucket)
        try:
            upload = await self._call(
                self._client.create_multipart_upload,
                Bucket=name,
                Key=key,
                ContentType=content_type,
                **self._sse,
            )
        except Unavailable:  # S3 may yet start the upload it did not confirm: abort what it starts
            self._abandon(name, key, None)
            raise
        upload_id, buffer, total = upload["UploadId"], bytearray(), 0
        parts: list[dict[str, Any]] = []

        async def flush() -> None:
            part = await self._call(
                self._client.upload_part,
                Bucket=name,
                Key=key,
                UploadId=upload_id,
                PartNumber=len(parts) + 1,
                Body=bytes(buffer),
            )
            parts.append({"ETag": part["ETag"], "PartNumber": len(parts) + 1})
            buffer.clear()

        try:
            async for chunk in chunks:
                buffer.extend(chunk)
                total += len(chunk)
                if len(buffer) >= PART_SIZE:
                    await flush()
            if buffer or not parts:
                await flush()
            await self._call(
                self._client.complete_multipart_upload,
                Bucket=name,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abandon(name, key, upload_id)
            raise
        return total

    def _abandon(self, bucket: str, key: str, upload_id: str | None) -> None:
        """Abort a failed multipart upload, in the background: the caller's answer does not
        wait for a server that may be down, and the parts stored so far are not left behind.
        While S3 does not answer, the abort is tried again with a backoff. With no upload id
        (S3 never confirmed the start), every upload S3 holds for that key is aborted: keys
        are written by one upload at a time."""
        self._abandoned[(bucket, key, upload_id)] = None
        if self._aborting is None or self._aborting.done():
            self._aborting = asyncio.get_running_loop().create_task(self._abort_abandoned())

    async def _abort_abandoned(self, *, first_delay_s: float = 0.0, max_delay_s: float = 5.0) -> None:
        delay = first_delay_s
        while self._abandoned:
            await asyncio.sleep(delay)
            for bucket, key, upload_id in list(self._abandoned):
                try:
                    for started in [upload_id] if upload_id else await self._uploads_of(bucket, key):
                        with contextlib.suppress(NotFound):  # NoSuchUpload: nothing left to abort
                            await self._call(
                                self._client.abort_multipart_upload, Bucket=bucket, Key=key, UploadId=started
                            )
                except Unavailable:
                    delay = min(max(delay * 2, 0.5), max_delay_s)
                    break
                self._abandoned.pop((bucket, key, upload_id), None)

    async def _uploads_of(self, bucket: str, key: str) -> list[str]:
        listed = await self._call(self._client.list_multipart_uploads, Bucket=bucket, Prefix=key)
        return [u["UploadId"] for u in listed.get("Uploads", []) if u.get("Key") == key]

    @property
    def abandoned_uploads(self) -> int:
        """Multipart uploads that failed and whose abort S3 has not confirmed yet."""
        return len(self._abandoned)

    async def get(self, bucket: str, key: str) -> bytes:
        check_location(bucket, key)
        response = await self._call(self._client.get_object, Bucket=self.bucket_name(bucket), Key=key)
        return await asyncio.to_thread(response["Body"].read)

    async def stream(self, bucket: str, key: str, *, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        check_location(bucket, key)
        response = await self._call(self._client.get_object, Bucket=self.bucket_name(bucket), Key=key)
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def exists(self, bucket: str, key: str) -> bool:
        check_location(bucket, key)
        try:
            await self._call(self._client.head_object, Bucket=self.bucket_name(bucket), Key=key)
        except NotFound:
            return False
        return True

    async def delete(self, bucket: str, key: str) -> None:
        check_location(bucket, key)
        await self._call(self._client.delete_object, Bucket=self.bucket_name(bucket), Key=key)

    async def list(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        pages = await self._call(
            lambda: list(paginator.paginate(Bucket=self.bucket_name(bucket), Prefix=prefix))
        )
        for page in pages:
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    async def ping(self) -> None:
        """Reach the server; a bucket that went missing (a wiped test server, a new account)
        is created again rather than leaving the platform down."""
        try:
            await self._call(self._client.head_bucket, Bucket=self.bucket_name(BUCKETS[0]))
        except NotFound:
            await self.ensure_buckets()

    async def close(self) -> None:
        if self._aborting is not None and not self._aborting.done():
            with contextlib.suppress(TimeoutError, Unavailable):  # a last try, bounded
                await asyncio.wait_for(asyncio.shield(self._aborting), timeout=5)
            self._aborting.cancel()
        self._client.close()


class LocalObjectStore:
    """``<root>/<bucket>/<key>``; writes go to a temporary file and are renamed into place,
    so a reader never sees half an object."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, bucket: str, key: str) -> Path:
        check_location(bucket, key)
        return self.root / bucket / key

    async def ensure_buckets(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)  # its own user's only
        for bucket in BUCKETS:
            (self.root / bucket).mkdir(exist_ok=True, mode=0o700)

    async def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        await self.put_stream(bucket, key, single_chunk(data), content_type=content_type)

    async def put_stream(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str = "application/octet-stream",
    ) -> int:
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")  # 0600
        total = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    await asyncio.to_thread(out.write, chunk)
                    total += len(chunk)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return total

    async def get(self, bucket: str, key: str) -> bytes:
        path = self._path(bucket, key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound("object not found") from None

    async def stream(self, bucket: str, key: str, *, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        path = self._path(bucket, key)
        if not path.is_file():
            raise NotFound("object not found")
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk

    async def exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).is_file()

    async def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)

    async def list(self, bucket: str, prefix: str = "") -> list[str]:
        base = self.root / bucket

        def walk() -> list[str]:
            found = (p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
            return sorted(
                k for k in found if k.startswith(prefix) and not Path(k).name.startswith(".upload-")
            )

        return await asyncio.to_thread(walk)

    async def ping(self) -> None:
        for bucket in BUCKETS:
            if not (self.root / bucket).is_dir():
                raise Unavailable(f"bucket folder {self.root / bucket} is missing", backend="local")
        if not os.access(self.root, os.W_OK):
            raise Unavailable(f"{self.root} is not writable", backend="local")

    async def close(self) -> None:
        return None
