"""Codes as an authenticator app computes them (RFC 6238: HMAC-SHA1, 30-second
steps, six digits), written out here so the tests never ask the code under
test for the answer."""

import hashlib
import hmac
import struct
import time


def totp(key: bytes, at: float, step: int = 30, digits: int = 6) -> str:
    counter = struct.pack(">Q", int(at // step))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def totp_now(key: bytes) -> str:
    return totp(key, time.time())


def device_key(device) -> bytes:
    """The device's secret, as the QR code and the typed key give it."""
    return bytes.fromhex(device.key)
