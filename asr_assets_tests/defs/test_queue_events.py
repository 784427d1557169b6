"""platform/queue_events.py: which objects an S3 event notification names, as S3 and SNS deliver them."""

import json

from asr_assets.platform.queue_events import object_uris


def _event(name: str, key: str, bucket: str = "calls") -> dict:
    return {"eventName": name, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}


def test_created_objects_are_named_with_their_keys_decoded():
    body = json.dumps({"Records": [_event("ObjectCreated:Put", "landing/2026/12/call+one%C3%A9.wav"),
                                   _event("ObjectCreated:CompleteMultipartUpload", "landing/b.wav"),
                                   _event("ObjectRemoved:Delete", "landing/c.wav")]})  # fmt: skip
    assert object_uris(body) == ["s3://calls/landing/2026/12/call oneé.wav", "s3://calls/landing/b.wav"]


def test_an_event_through_an_sns_topic_is_unwrapped():
    inner = json.dumps({"Records": [_event("ObjectCreated:Copy", "landing/a.wav")]})
    assert object_uris(json.dumps({"Type": "Notification", "Message": inner})) == ["s3://calls/landing/a.wav"]


def test_the_configuration_test_event_names_nothing_and_other_messages_are_not_events():
    assert object_uris(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "calls"})) == []
    assert object_uris("not json") is None
    assert object_uris(json.dumps({"hello": "world"})) is None
    assert object_uris(json.dumps([1, 2])) is None
