from __future__ import annotations

import socket
import time

import pytest

from origin.recorder.receiver import IP_MULTICAST_ALL, ReceiverError, ReceiverHub, open_rtp_socket


def _send(group, port, data=b"x" * 20, n=3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    for _ in range(n):
        s.sendto(data, (group, port))
    s.close()


def _recv_all(sock, wait=0.3):
    time.sleep(wait)
    got = 0
    while True:
        try:
            sock.recv(2048)
            got += 1
        except BlockingIOError:
            return got


def test_multicast_all_is_off_and_groups_are_isolated(group_port):
    group, port = group_port
    other = group.rsplit(".", 1)[0] + "." + str(int(group.rsplit(".", 1)[1]) % 254 + 1)
    a = open_rtp_socket(group, port, interface="127.0.0.1")
    b = open_rtp_socket(other, port, interface="127.0.0.1")
    try:
        assert a.getsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL) == 0
        _send(group, port)
        assert _recv_all(a) == 3 and _recv_all(b, 0) == 0
    finally:
        a.close()
        b.close()


def test_source_specific_join_filters_senders(group_port):
    group, port = group_port
    good = open_rtp_socket(group, port, interface="127.0.0.1", source="127.0.0.1")
    try:
        _send(group, port)
        assert _recv_all(good) == 3
    finally:
        good.close()
    bad = open_rtp_socket(group, port, interface="127.0.0.1", source="192.0.2.77")
    try:
        _send(group, port)
        assert _recv_all(bad) == 0
    finally:
        bad.close()


def test_hub_delivers_datagrams_and_ticks(group_port):
    group, port = group_port
    hub = ReceiverHub()
    got, ticks = [], []
    s = open_rtp_socket(group, port, interface="127.0.0.1")
    hub.add(s, lambda view, n, now: got.append(bytes(view[:n])), ticks.append)
    try:
        time.sleep(0.1)
        _send(group, port, b"hello", 2)
        end = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < end:
            time.sleep(0.01)
        assert got == [b"hello", b"hello"] and ticks
    finally:
        hub.remove(s)
        s.close()
        hub.close()


def test_bad_addresses():
    with pytest.raises(ReceiverError, match="'not-an-ip' is not an IPv4 address"):
        open_rtp_socket("not-an-ip", 5004)
    with pytest.raises(ReceiverError, match="port=70000"):
        open_rtp_socket("239.69.1.1", 70000)
