"""The local push server (`functions/push_receiver/local.py`) against hostile connections (issue 10,
item 10): a negative, malformed or doubled Content-Length is refused without reading the body, and a
client that connects and sends nothing is disconnected. Requests go over a raw socket, which says
exactly what a hostile client would; each socket has its own timeout so a regression fails, not hangs."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from coinswarm.http.json_http import HttpRequest, HttpResponse, respond
from functions.push_receiver.local import serve

CLIENT_TIMEOUT_S = 10.0
SERVER_TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    def handle(request: HttpRequest) -> HttpResponse:
        return respond(200, {"bytes": len(request.body)})

    server = serve(handle, max_body_bytes=1024, socket_timeout_s=SERVER_TIMEOUT_S)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def exchange(port: int, head: str, body: bytes = b"", *, end_headers: bool = True) -> bytes:
    """Send `head` (the request line and headers) and `body`, keep the connection open, and return
    everything the server sends before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT_S) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + (b"\r\n" if end_headers else b"") + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer


@pytest.mark.parametrize("length", ["-1", "-99999", "abc", "1e3", "0x10", " ", "99999999999999999999"])
def test_a_content_length_that_is_not_a_byte_count_is_refused_and_the_body_left_unread(port: int, length: str) -> None:
    head = f"POST / HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: {length}\n"
    answer = exchange(port, head, b'{"a": 1}' * 10)  # the body never ends: the connection stays open
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"bad_content_length" in answer and b"Content-Length must be one whole number" in answer


def test_two_different_content_lengths_are_refused(port: int) -> None:
    head = "POST / HTTP/1.1\nHost: x\nContent-Length: 2\nContent-Length: 4\n"
    assert exchange(port, head, b"abcd").startswith(b"HTTP/1.1 400 ")


def test_a_chunked_body_is_refused_as_length_required(port: int) -> None:
    head = "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
    assert exchange(port, head, b"4\r\nabcd\r\n").startswith(b"HTTP/1.1 411 ")


def test_a_valid_length_is_read_exactly(port: int) -> None:
    answer = exchange(port, "POST / HTTP/1.1\nHost: x\nContent-Length: 4\nConnection: close\n", b"abcd")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"bytes": 4}')


def test_a_client_that_sends_nothing_is_disconnected(port: int) -> None:
    assert exchange(port, "", end_headers=False) == b""  # the server closed the connection: recv saw the end
    # and one that stops half-way through its headers
    assert exchange(port, "POST / HTTP/1.1\nHost: x\n", end_headers=False) == b""
    # and one whose body stops short of its Content-Length
    assert exchange(port, "POST / HTTP/1.1\nHost: x\nContent-Length: 100\n", b"short") == b""
