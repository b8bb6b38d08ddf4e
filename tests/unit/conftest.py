import pytest
from pytest_socket import disable_socket


@pytest.fixture(autouse=True)
def _no_network() -> None:
    # Unit tests are pure logic: any socket means a test reached outside itself.
    disable_socket(allow_unix_socket=True)
