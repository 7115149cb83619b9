"""Where backup files go: a local folder or ``s3://bucket/prefix``, written and read as streams."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from inescape.kernel.errors import Invalid
from inescape.ops.backup.crypto import Sink

PART_SIZE = 8 * 1024 * 1024  # S3's multipart minimum is 5 MiB


class Target(Protocol):
    location: str

    def sink(self, name: str) -> Sink: ...

    def read(self, name: str) -> Iterator[bytes]: ...

    def exists(self, name: str) -> bool: ...


class _FileSink:
    """Writes ``<name>.partial`` (mode 0600) and renames it into place on close."""

    def __init__(self, path: Path) -> None:
        self.path, self._tmp = path, path.with_name(path.name + ".partial")
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


class DirectoryTarget:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def sink(self, name: str) -> Sink:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _FileSink(self.root / name)

    def read(self, name: str) -> Iterator[bytes]:
        path = self.root / name
        if not path.is_file():
            raise Invalid(f"{name} is missing from {self.root}")
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()


class _S3Sink:
    """A multipart upload in ``PART_SIZE`` parts: memory stays bounded by one part."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self._buffer, self._parts = bytearray(), list[dict[str, Any]]()

    def _flush(self) -> None:
        number = len(self._parts) + 1
        part = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})
        self._buffer.clear()

    def write(self, data: bytes) -> None:
        self._buffer.extend(data)
        if len(self._buffer) >= PART_SIZE:
            self._flush()

    def close(self) -> None:
        if self._buffer or not self._parts:
            self._flush()
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload, MultipartUpload={"Parts": self._parts}
        )

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # best effort: the upload expires otherwise
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload)


class S3Target:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}"

    def sink(self, name: str) -> Sink:
        return _S3Sink(self._client, self.bucket, self.prefix + name)

    def read(self, name: str) -> Iterator[bytes]:
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"]
        except self._client.exceptions.NoSuchKey:
            raise Invalid(f"{name} is missing from {self.location}") from None
        try:
            while chunk := body.read(1024 * 1024):
                yield chunk
        finally:
            body.close()

    def exists(self, name: str) -> bool:
        found = self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + name, MaxKeys=1)
        return any(item["Key"] == self.prefix + name for item in found.get("Contents", []))


def open_target(location: str, *, s3_client: Any | None = None) -> Target:
    """``s3://bucket/prefix`` (with the client the caller built) or a folder path."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        if not bucket or s3_client is None:
            raise Invalid(f"{location!r}: expected s3://bucket/prefix")
        return S3Target(s3_client, bucket, prefix)
    return DirectoryTarget(Path(location).expanduser().resolve())
