"""The control socket never stalls the packet loop (apps/spin/ctl_server.h).

A client that connects to the control socket and sends nothing holds the
control thread for its read timeout (2 s); the UDP echo must keep answering
at once meanwhile, and the control socket must serve the next client after.
"""
import socket
import time

from test_udp import ctl, start_spin

ECHO = ("import socket,time\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.settimeout(0.5)\n"
        "worst=0\n"
        "for i in range(10):\n"
        "    t=time.monotonic()\n"
        "    s.sendto(b'ping%d'%i,('198.18.0.2',7))\n"
        "    d,_=s.recvfrom(100)\n"
        "    assert d==b'ping%d'%i\n"
        "    worst=max(worst,time.monotonic()-t)\n"
        "print('worst',worst)\n")


def test_silent_control_client_does_not_stall_packets(lab, build_dir, tmp_path):
    cli, _, p, sock, _ = start_spin(lab, build_dir, tmp_path)
    # The echo answers before anything is held.
    assert cli.sh("/usr/bin/python3", "-c", ECHO, timeout=20).returncode == 0
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(sock)
    try:
        # Long enough for the appliance to have accepted the connection and
        # be waiting for its line.
        time.sleep(0.3)
        r = cli.sh("/usr/bin/python3", "-c", ECHO, check=False, timeout=20)
        assert r.returncode == 0, (r.stdout, r.stderr[-400:])
    finally:
        silent.close()
    st = ctl(build_dir, sock, "counters", "echo")
    assert st.returncode == 0 and "packets 20" in st.stdout.replace(":", ""), st.stdout
    assert p.stop() == 0


def test_half_sent_command_times_out_and_next_is_served(lab, build_dir, tmp_path):
    _, _, p, sock, _ = start_spin(lab, build_dir, tmp_path)
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(sock)
    slow.sendall(b"stat")          # no newline, never finished
    slow.settimeout(5)
    t = time.monotonic()
    # The server gives up on an unfinished line after its timeout and closes
    # without running it.
    assert slow.recv(100) == b""
    assert time.monotonic() - t < 4.5
    slow.close()
    st = ctl(build_dir, sock, "status")
    assert st.returncode == 0, st
    assert p.stop() == 0
