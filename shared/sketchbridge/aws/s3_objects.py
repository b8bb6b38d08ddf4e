"""Sketches and results in the private artifacts bucket; clients get short-lived URLs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sketchbridge.domain.errors import InternalError
from sketchbridge.services.ports import PresignedPost

# What S3 answers a conditional put whose key exists (412), or is being written by another
# conditional put at the same moment (409): either way this put must not land.
_ALREADY_THERE = ("PreconditionFailed", "ConditionalRequestConflict")


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=metadata or {},
            )
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The image store is unavailable.") from exc

    def put_new(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> bool:
        # S3's conditional write: the put fails, and changes nothing, if the key exists.
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=metadata or {},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _ALREADY_THERE:
                return False
            raise InternalError("The image store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The image store is unavailable.") from exc
        return True

    def keys(self, prefix: str, *, limit: int) -> list[str]:
        try:
            listed = self._client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, MaxKeys=limit)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The image store is unavailable.") from exc
        return [str(entry["Key"]) for entry in listed.get("Contents", [])]

    def metadata(self, key: str) -> dict[str, str] | None:
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise InternalError("The image store is unavailable.") from exc
        except BotoCoreError as exc:
            raise InternalError("The image store is unavailable.") from exc
        return {**head.get("Metadata", {}), "bytes": str(head.get("ContentLength", 0))}

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            return bytes(response["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The image store is unavailable.") from exc

    def delete(self, key: str) -> None:
        # S3 answers 204 whether or not the key existed.
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise InternalError("The image store is unavailable.") from exc

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=expires_in,
            )
        )

    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        """S3 refuses the form's upload unless it is exactly ``key``, declares
        ``content_type`` and is 1..``max_bytes`` bytes: the policy is signed, so a client
        cannot widen any of it."""
        form = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"bucket": self._bucket},
                ["eq", "$key", key],
                ["eq", "$Content-Type", content_type],
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=expires_in,
        )
        fields = {str(name): str(value) for name, value in form["fields"].items()}
        return PresignedPost(url=str(form["url"]), fields=fields)
