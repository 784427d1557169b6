"""What landed in an object-store prefix, from the store's event notifications: S3 `ObjectCreated` events delivered
to an SQS queue (as Databricks Auto Loader's file-notification mode), read by the landing tick.

Events wake the registry, they never decide: each named object is looked up (its size and time) and registered like
a listed one, and the registry dedups by content, so a duplicated, late or reordered event changes nothing. A
message is deleted only after the tick that read it has committed its registration (`ack`): a tick that dies before
leaves it to come back after the queue's visibility timeout. Events can be lost (a notification rule changed, a
queue purged or down), so the reconciliation pass (platform/landing_watch.py) lists the prefix in slices behind it.

Credentials and the endpoint come from the environment, as for s3fs (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SQS, AWS_DEFAULT_REGION): boto3 reads them itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

logger = logging.getLogger(__name__)

MAX_MESSAGES = 10  # SQS's most per receive call
MAX_RECEIVES = 50  # per tick: 500 events, inside the tick's hashing budget (the rest waits in the queue)


@dataclass
class Received:
    uris: set[str] = field(default_factory=set)  # s3://bucket/key of every object created under the prefix
    receipts: list[str] = field(default_factory=list)  # to delete once the registration has committed
    ignored: int = 0  # test events, other event types, objects outside the prefix


def object_uris(body: str) -> list[str] | None:
    """The s3:// URIs an event message names (S3's own JSON, or wrapped by SNS); [] for a message that names none
    (s3:TestEvent, a deletion), None for one that is not an S3 event at all."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and "Records" not in message and isinstance(message.get("Message"), str):
            message = json.loads(message["Message"])  # through an SNS topic
    except (ValueError, TypeError):
        return None
    if not isinstance(message, dict):
        return None
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        return None
    uris = []
    for record in records:
        if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        bucket, key = (s3.get("bucket") or {}).get("name"), (s3.get("object") or {}).get("key")
        if bucket and key:  # keys arrive URL-encoded, spaces as '+'
            uris.append(f"s3://{bucket}/{unquote_plus(key)}")
    return uris


class QueueEvents:
    """An SQS queue of S3 event notifications for one landing prefix."""

    def __init__(self, queue_url: str, landing_url: str) -> None:
        import boto3

        self.queue_url = queue_url
        self.prefix = landing_url.rstrip("/") + "/"
        self._client = boto3.client("sqs")

    def receive(self) -> Received | None:
        """The objects created under the prefix that the queue holds now (a few receive calls, no waiting), or
        None when the queue cannot be read (then the tick lists the prefix)."""
        got = Received()
        try:
            for _ in range(MAX_RECEIVES):
                messages = self._client.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=MAX_MESSAGES, WaitTimeSeconds=0
                ).get("Messages", [])
                for message in messages:
                    uris = object_uris(message.get("Body", ""))
                    got.receipts.append(message["ReceiptHandle"])
                    if uris is None:
                        logger.warning(f"not an S3 event notification, deleted: {message.get('MessageId')}")
                        got.ignored += 1
                        continue
                    inside = {uri for uri in uris if uri.startswith(self.prefix)}
                    got.ignored += len(uris) - len(inside) + (not uris)
                    got.uris |= inside
                if len(messages) < MAX_MESSAGES:
                    break
        except Exception as e:  # botocore's errors: endpoint down, no such queue, no permission
            logger.warning(
                f"landing queue {self.queue_url} unreadable ({type(e).__name__}: {e}); listing instead"
            )
            return None
        return got

    def ack(self, receipts: list[str]) -> None:
        """Delete handled messages (after the registration committed); a failure only means they come back."""
        for start in range(0, len(receipts), MAX_MESSAGES):
            chunk = receipts[start : start + MAX_MESSAGES]
            try:
                self._client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
                )
            except Exception as e:
                logger.warning(
                    f"landing queue {self.queue_url}: could not delete {len(chunk)} message(s): {e}"
                )
