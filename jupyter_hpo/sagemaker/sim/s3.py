"""A little of S3, simulated on files: Put/Get/HeadObject and ListObjectsV2."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.response import StreamingBody

from jupyter_hpo.sagemaker.sim.base import ApiError, dt

__all__ = ["S3Store", "parse_s3_uri"]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if match is None:
        raise ValueError(f"an S3 URI must look like s3://bucket/key, but got {uri!r}.")
    return match.group(1), match.group(2)


class S3Store:
    """A little of S3 on files: object ``key`` of ``bucket`` is the file ``root/bucket/key``."""

    def __init__(self, root: Path, kms_required: tuple[str, ...] = ()) -> None:
        self.root = root
        self.kms_required = frozenset(kms_required)

    def path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise NotImplementedError(f"the simulated S3 stores objects as files, so it cannot hold the key {key!r}")
        return self.root / bucket / Path(*parts)

    def read(self, bucket: str, key: str) -> bytes:
        """The object's bytes; raises the service's NoSuchKey error when it does not exist."""
        path = self.path(bucket, key)
        if not path.is_file():
            raise ApiError("NoSuchKey", "The specified key does not exist.", 404)
        return path.read_bytes()

    def write(self, bucket: str, key: str, data: bytes) -> None:
        path = self.path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def download_prefix(self, uri: str, dest: Path) -> None:
        """Copy every object under the S3 prefix ``uri`` into ``dest``, keeping the path below the prefix."""
        bucket, prefix = parse_s3_uri(uri)
        base = self.root / bucket
        for path in sorted(base.rglob("*")) if base.is_dir() else []:
            key = path.relative_to(base).as_posix()
            if path.is_file() and key.startswith(prefix):
                target = dest / (key[len(prefix):].lstrip("/") or path.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    @staticmethod
    def _meta(path: Path, data: bytes) -> dict[str, Any]:
        return {"ContentLength": len(data), "ETag": f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
                "LastModified": dt(path.stat().st_mtime)}

    def put_object(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """PutObject; a bucket exists as soon as it holds an object."""
        if p["Bucket"] in self.kms_required and p.get("ServerSideEncryption") != "aws:kms":
            raise ApiError("AccessDenied", "Access Denied (the bucket policy denies s3:PutObject without "
                                           "s3:x-amz-server-side-encryption = aws:kms)", 403)
        self.write(p["Bucket"], p["Key"], p.get("Body", b""))
        return {"ETag": self._meta(self.path(p["Bucket"], p["Key"]), p.get("Body", b""))["ETag"]}

    def get_object(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """GetObject; a missing key is NoSuchKey (404)."""
        data = self.read(p["Bucket"], p["Key"])
        return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "binary/octet-stream",
                **self._meta(self.path(p["Bucket"], p["Key"]), data)}

    def head_object(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """HeadObject; a missing key is a bare 404, as the service sends no body for HEAD."""
        try:
            data = self.read(p["Bucket"], p["Key"])
        except ApiError:
            raise ApiError("404", "Not Found", 404) from None
        return {"ContentType": "binary/octet-stream", **self._meta(self.path(p["Bucket"], p["Key"]), data)}

    def list_objects_v2(self, now: float, p: dict[str, Any]) -> dict[str, Any]:
        """ListObjectsV2 with Prefix, StartAfter, MaxKeys and ContinuationToken (no Delimiter)."""
        if p.get("Delimiter"):
            raise NotImplementedError("the simulated S3 does not support ListObjectsV2 with a Delimiter")
        base, prefix = self.root / p["Bucket"], p.get("Prefix", "")
        if not base.is_dir():
            raise ApiError("NoSuchBucket", "The specified bucket does not exist.", 404)
        after = p.get("ContinuationToken") or p.get("StartAfter", "")
        keys = sorted(key for key in (f.relative_to(base).as_posix() for f in base.rglob("*") if f.is_file())
                      if key.startswith(prefix) and key > after)
        max_keys = p.get("MaxKeys", 1000)
        page = keys[:max_keys]
        enc = (lambda s: quote(s, safe="/")) if p.get("EncodingType") == "url" else str
        out: dict[str, Any] = {"IsTruncated": len(keys) > max_keys, "Name": p["Bucket"], "Prefix": enc(prefix),
                               "MaxKeys": max_keys, "KeyCount": len(page)}
        if page:
            out["Contents"] = []
            for key in page:
                path = self.path(p["Bucket"], key)
                meta = self._meta(path, path.read_bytes())
                out["Contents"].append({"Key": enc(key), "Size": meta["ContentLength"], "ETag": meta["ETag"],
                                        "LastModified": meta["LastModified"], "StorageClass": "STANDARD"})
        if len(keys) > max_keys:
            out["NextContinuationToken"] = page[-1]
        for name in ("ContinuationToken", "StartAfter", "EncodingType"):
            if name in p:
                out[name] = enc(p[name]) if name == "StartAfter" else p[name]
        return out
