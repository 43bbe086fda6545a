"""The secrets and limits the test backend is configured with."""

from __future__ import annotations

DEFAULT_PASSWORD = "default-password-for-tests"
JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!"
# Test services listen on free ports of this machine.
LOCAL_SERVICES = "127.0.0.1,localhost"
