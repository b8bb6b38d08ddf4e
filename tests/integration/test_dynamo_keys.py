"""The keys table in emulated DynamoDB: what the authorizer, /keys and webhooks rely on."""

from __future__ import annotations

import os

import pytest

from sketchbridge.aws.clients import client
from sketchbridge.aws.dynamo_keys import DynamoApiKeyStore
from sketchbridge.domain.api_keys import KeyCreateRequest
from sketchbridge.services import api_keys
from sketchbridge.services.webhooks import WebhookRecord
from tests.integration.conftest import EmulatedAws


@pytest.fixture
def keys(aws: EmulatedAws) -> DynamoApiKeyStore:
    # The table the template gives every function (KEYS_TABLE).
    return DynamoApiKeyStore(client("dynamodb"), os.environ["KEYS_TABLE"])


def test_a_key_authorizes_until_its_owner_revokes_it_and_only_its_owner_can(
    keys: DynamoApiKeyStore,
) -> None:
    created = api_keys.create_key(KeyCreateRequest(name="ci"), user_id="ada", keys=keys)
    assert api_keys.authorize(f"Bearer {created.key}", keys=keys) is not None

    assert keys.delete(created.id, user_id="mallory") is False
    assert api_keys.authorize(f"Bearer {created.key}", keys=keys) is not None
    assert keys.delete(created.id, user_id="ada") is True

    assert api_keys.authorize(f"Bearer {created.key}", keys=keys) is None
    assert keys.delete(created.id, user_id="ada") is False


def test_a_user_lists_only_their_own_keys_oldest_first_without_secrets(
    keys: DynamoApiKeyStore,
) -> None:
    first = api_keys.create_key(KeyCreateRequest(name="one"), user_id="grace", keys=keys)
    second = api_keys.create_key(KeyCreateRequest(name="two"), user_id="grace", keys=keys)
    api_keys.create_key(KeyCreateRequest(name="other"), user_id="linus", keys=keys)

    listed = api_keys.list_keys(user_id="grace", keys=keys)

    assert [item.id for item in listed.items] == [first.id, second.id]
    assert first.key not in listed.model_dump_json()


def test_a_webhooks_final_delivery_is_claimed_by_one_message_and_its_retries(
    keys: DynamoApiKeyStore,
) -> None:
    keys.put_webhook(
        WebhookRecord(
            job_id="j" * 32,
            owner="ada",
            key_id="k" * 24,
            url="https://example.com/hook",
            events=["completed"],
            model="sketchbridge/auto",
            base_url="https://api.example",
            expires_at=2_000_000_000,
        )
    )

    assert keys.claim_completed("j" * 32, delivery_id="message-1") is True
    assert keys.claim_completed("j" * 32, delivery_id="message-1") is True  # its retry
    assert keys.claim_completed("j" * 32, delivery_id="message-2") is False
    assert keys.claim_completed("x" * 32, delivery_id="message-3") is False  # no webhook
    # A webhook record is not a key: it never shows up among anyone's keys.
    assert keys.get("j" * 32) is None
