"""A minimal TURN client (RFC 5389 / RFC 5766) over UDP, for testing coturn without a browser.

Only what the tests need: Allocate with long-term credentials (the 401 -> nonce -> retry dance),
and CreatePermission for a peer address. Written from the RFCs, independent of app code.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass, field

MAGIC = 0x2112A442
ALLOCATE, CREATE_PERMISSION = 0x0003, 0x0008
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
XOR_PEER_ADDRESS, XOR_RELAYED_ADDRESS, REQUESTED_TRANSPORT, LIFETIME = 0x0012, 0x0016, 0x0019, 0x000D


@dataclass
class Response:
    method: int
    cls: str  # "success" | "error"
    attrs: dict[int, bytes] = field(default_factory=dict)

    @property
    def error_code(self) -> int | None:
        value = self.attrs.get(ERROR_CODE)
        return None if value is None else (value[2] & 0x7) * 100 + value[3]

    def xor_address(self, attr: int) -> tuple[str, int]:
        value = self.attrs[attr]
        port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
        addr = struct.unpack("!I", value[4:8])[0] ^ MAGIC
        return socket.inet_ntoa(struct.pack("!I", addr)), port


def _attr(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _xor_address(ip: str, port: int) -> bytes:
    addr = struct.unpack("!I", socket.inet_aton(ip))[0] ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), addr)


class TurnClient:
    def __init__(self, host: str, port: int, username: str, password: str, timeout: float = 3):
        self.server = (host, port)
        self.username, self.password = username, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.realm: bytes | None = None
        self.nonce: bytes | None = None

    def close(self) -> None:
        self.sock.close()

    def _key(self) -> bytes:
        return hashlib.md5(f"{self.username}:{self.realm.decode()}:{self.password}".encode()).digest()  # noqa: S324 - RFC 5389 long-term key

    def _build(self, method: int, attrs: bytes, txid: bytes, *, signed: bool) -> bytes:
        if signed:
            attrs += _attr(USERNAME, self.username.encode()) + _attr(REALM, self.realm) + _attr(NONCE, self.nonce)
            header = struct.pack("!HHI", method, len(attrs) + 24, MAGIC) + txid
            mac = hmac.new(self._key(), header + attrs, hashlib.sha1).digest()
            attrs += _attr(MESSAGE_INTEGRITY, mac)
        return struct.pack("!HHI", method, len(attrs), MAGIC) + txid + attrs

    def _exchange(self, message: bytes, txid: bytes) -> Response:
        for _ in range(3):
            self.sock.sendto(message, self.server)
            try:
                data, _ = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            if data[8:20] != txid:
                continue
            kind, length = struct.unpack("!HH", data[:4])
            method = (kind & 0x000F) | ((kind & 0x00E0) >> 1) | ((kind & 0x3E00) >> 2)
            cls = "error" if kind & 0x0110 == 0x0110 else "success"
            attrs, offset = {}, 20
            while offset < 20 + length:
                a_kind, a_len = struct.unpack("!HH", data[offset:offset + 4])
                attrs[a_kind] = data[offset + 4:offset + 4 + a_len]
                offset += 4 + a_len + (-a_len % 4)
            return Response(method, cls, attrs)
        raise TimeoutError("no answer from the TURN server")

    def request(self, method: int, attrs: bytes) -> Response:
        """Send a request; on 401/438 take the realm and nonce given and sign a retry."""
        txid = os.urandom(12)
        response = self._exchange(self._build(method, attrs, txid, signed=self.nonce is not None), txid)
        if response.cls == "error" and response.error_code in (401, 438) and REALM in response.attrs:
            first_try = self.nonce is None or response.error_code == 438
            self.realm, self.nonce = response.attrs[REALM], response.attrs[NONCE]
            if first_try:
                txid = os.urandom(12)
                response = self._exchange(self._build(method, attrs, txid, signed=True), txid)
        return response

    def allocate(self) -> Response:
        udp = _attr(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))
        return self.request(ALLOCATE, udp + _attr(LIFETIME, struct.pack("!I", 60)))

    def create_permission(self, peer_ip: str) -> Response:
        return self.request(CREATE_PERMISSION, _attr(XOR_PEER_ADDRESS, _xor_address(peer_ip, 0)))
