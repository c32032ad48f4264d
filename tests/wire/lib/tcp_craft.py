"""Hand-made TCP segments against spin, with Scapy, from inside the client
namespace (run by tests/wire/test_tcp_crafted.py through
`ip netns exec ... /usr/bin/python3 tcp_craft.py SCENARIO ...`).

The crafted side uses an address the Linux client does not own
(198.18.0.10, reached through a static ARP entry in spin's config), so the
client's kernel ignores spin's answers instead of resetting them; Scapy
sees them on the veth.  Each scenario prints one line
RESULT {json} that the test asserts on.

Sequence numbers: Sess keeps snd_nxt (ours) and rcv_nxt (spin's next byte)
as plain integers modulo 2^32.
"""
import json
import random
import sys
import time

from scapy.all import IP, TCP, Ether, Raw, conf, sniff  # noqa: E402

conf.verb = 0
ME = "198.18.0.10"
SPIN = "198.18.0.2"
M32 = 1 << 32


class Sess:
    def __init__(self, iface, spin_mac, my_mac, dport, sport=None):
        self.iface = iface
        self.dport = dport
        self.sport = sport or random.randint(20000, 60000)
        self.sock = conf.L2socket(iface=iface, filter=f"tcp and src host {SPIN} and dst host "
                                  f"{ME} and dst port {self.sport}")
        self.eth = Ether(src=my_mac, dst=spin_mac)
        self.iss = random.randint(0, M32 - 1)
        self.snd_nxt = self.iss
        self.rcv_nxt = None
        self.got = []           # every segment from spin, as TCP layers

    def seg(self, flags="A", seq=None, ack=None, data=b"", win=65535, options=None,
            **kw):
        t = TCP(sport=self.sport, dport=self.dport, flags=flags,
                seq=self.snd_nxt if seq is None else seq % M32,
                ack=(self.rcv_nxt or 0) if ack is None else ack % M32, window=win,
                options=options or [], **kw)
        return self.eth / IP(src=ME, dst=SPIN) / t / (Raw(data) if data else b"")

    def send(self, *pkts):
        for p in pkts:
            self.sock.send(p)

    def recv(self, timeout=1.0, until=None):
        """Segments from spin within timeout (stops early when until(tcp)
        is true for one); also kept in self.got."""
        out = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ps = sniff(opened_socket=self.sock, timeout=max(0.01, min(0.2, end - time.monotonic())),
                       count=1)
            for p in ps:
                if TCP in p:
                    out.append(p[TCP])
                    self.got.append(p[TCP])
                    if until and until(p[TCP]):
                        return out
        return out

    def handshake(self, win=65535, options=(("MSS", 1460),)):
        self.send(self.seg("S", win=win, options=list(options)))
        self.snd_nxt = (self.iss + 1) % M32
        r = self.recv(3, until=lambda t: t.flags.S and t.flags.A)
        sa = [t for t in r if t.flags.S and t.flags.A]
        if not sa:
            raise RuntimeError(f"no SYN-ACK: {[t.summary() for t in r]}")
        self.rcv_nxt = (sa[0].seq + 1) % M32
        self.syn_ack = sa[0]
        self.send(self.seg("A", win=win))
        return sa[0]

    def data(self, payload, seq=None, win=65535, flags="PA", **kw):
        p = self.seg(flags, seq=seq, data=payload, win=win, **kw)
        if seq is None:
            self.snd_nxt = (self.snd_nxt + len(payload)) % M32
        return p

    def last_ack(self):
        acks = [t for t in self.got if t.flags.A and not t.flags.R]
        return acks[-1] if acks else None

    def close(self):
        self.send(self.seg("R", seq=self.snd_nxt))
        self.sock.close()


def rel(a, b):
    """a - b modulo 2^32, as a signed int."""
    d = (a - b) % M32
    return d - M32 if d >= M32 // 2 else d


# --- scenarios -----------------------------------------------------------------
def rst_syn(s):
    """RFC 5961 on an ESTABLISHED connection (echo)."""
    s.handshake()
    res = {}
    s.send(s.data(b"ping"))
    r = s.recv(1, until=lambda t: bytes(t.payload) == b"ping")
    res["echo_before"] = any(bytes(t.payload) == b"ping" for t in r)
    s.rcv_nxt = (s.rcv_nxt + 4) % M32
    s.send(s.seg("A"))
    s.recv(0.3)
    s.got.clear()
    # RST inside the window but not at rcv_nxt: challenge ACK.
    s.send(s.seg("R", seq=s.snd_nxt + 1000))
    r = s.recv(1, until=lambda t: t.flags.A)
    res["rst_inwin_challenge"] = [(t.flags.A and not t.flags.R and t.ack == s.snd_nxt)
                                  for t in r][:1] == [True]
    # RST far outside the window: dropped without a word (RFC 9293).
    s.recv(0.3)
    s.got.clear()
    s.send(s.seg("R", seq=s.snd_nxt + (1 << 30)))
    r = s.recv(0.5)
    res["rst_outwin_answers"] = len(r)
    res["rst_outwin_detail"] = [f"{t.flags} seq {rel(t.seq, s.rcv_nxt)} ack {rel(t.ack, s.snd_nxt)} "
                                f"len {len(bytes(t.payload))}" for t in r]
    # SYN on the synchronized connection, in and out of window: challenge ACK.
    for name, seq in (("syn_inwin", s.snd_nxt + 10), ("syn_outwin", s.snd_nxt + (1 << 30))):
        time.sleep(0.05)
        s.got.clear()
        s.send(s.seg("S", seq=seq, ack=0, options=[("MSS", 1460)]))
        r = s.recv(1, until=lambda t: t.flags.A)
        res[name + "_challenge"] = [(t.flags.A and not t.flags.R and not t.flags.S and
                                     t.ack == s.snd_nxt) for t in r][:1] == [True]
    # Still alive: echo works.
    s.got.clear()
    s.send(s.data(b"pong"))
    r = s.recv(1, until=lambda t: bytes(t.payload) == b"pong")
    res["echo_after"] = any(bytes(t.payload) == b"pong" for t in r)
    s.rcv_nxt = (s.rcv_nxt + 4) % M32
    s.send(s.seg("A"))
    # The exact RST ends it: a later segment gets a RST back.
    s.send(s.seg("R", seq=s.snd_nxt))
    time.sleep(0.2)
    s.got.clear()
    s.send(s.data(b"gone"))
    r = s.recv(1, until=lambda t: t.flags.R)
    res["reset_after_exact_rst"] = any(t.flags.R for t in r)
    return res


def window_trim(s):
    """Fill spin's receive window (echo, our window 0 so nothing drains),
    then send a segment that straddles the right edge: spin keeps the part
    inside and acknowledges exactly up to the edge."""
    s.handshake(win=0)
    res = {"rounds": 0}
    payload = bytes(range(256)) * 6
    chunk = payload[:1460]
    edge = None
    for rnd in range(60):
        res["rounds"] = rnd + 1
        a = s.last_ack()
        if a is not None:
            edge = (a.ack + a.window) % M32
            left = rel(edge, s.snd_nxt)
            if left < len(chunk):
                break
            n = min(24, left // len(chunk))
        else:
            n = 24
        for _ in range(max(1, n)):
            s.send(s.data(chunk, win=0))
        s.recv(1.0, until=lambda t: t.flags.A and t.ack == s.snd_nxt)
    a = s.last_ack()
    res["ack_before"] = rel(a.ack, s.iss)
    res["left"] = rel(edge, s.snd_nxt)
    # The straddling segment.
    start = s.snd_nxt
    s.got.clear()
    s.send(s.data(chunk, win=0))
    r = s.recv(1.5, until=lambda t: t.flags.A and rel(t.ack, start) > 0)
    acks = [rel(t.ack, start) for t in r if t.flags.A]
    res["acked_of_straddling"] = max(acks) if acks else 0
    res["window_after"] = [t.window for t in r if t.flags.A][-1:] or [None]
    # A segment wholly beyond the window: not acknowledged (a duplicate ACK).
    s.got.clear()
    s.send(s.seg("PA", seq=start + len(chunk) + 5000, data=chunk, win=0))
    r = s.recv(1.0, until=lambda t: t.flags.A)
    res["beyond_acks"] = [rel(t.ack, start) for t in r if t.flags.A]
    return res


def reassembly_urgent(s):
    """Out-of-order, overlapping and retransmitted pieces of one 4000-byte
    stream; the echo must give back exactly the stream.  Then urgent data
    (URG, pointer 5) is echoed inline and byte-exact."""
    s.handshake(options=(("MSS", 1460), ("SAckOK", b"")))
    rng = random.Random(5)
    data = bytes(rng.randrange(256) for _ in range(4000))
    base = s.snd_nxt
    pieces = [(1000, 2000), (500, 1500), (2500, 3100), (3000, 4000), (1900, 2600),
              (0, 800), (700, 1100),
              (0, 1400), (1300, 2700), (2600, 4000)]
    for a, b in pieces:
        s.send(s.seg("PA", seq=base + a, data=data[a:b]))
        time.sleep(0.01)
    s.snd_nxt = (base + len(data)) % M32
    echoed = {}
    end = time.monotonic() + 3
    while time.monotonic() < end and sum(map(len, echoed.values())) < len(data):
        for t in s.recv(0.3):
            pl = bytes(t.payload)
            if pl:
                echoed[rel(t.seq, s.rcv_nxt)] = pl
        if echoed:
            got = reassemble(echoed)
            s.send(s.seg("A", ack=s.rcv_nxt + len(got)))
    got = reassemble(echoed)
    res = {"echo_len": len(got), "echo_exact": got == data,
           "sack_seen": any(o[0] == "SAck" for t in s.got for o in t.options)}
    s.rcv_nxt = (s.rcv_nxt + len(got)) % M32
    # Urgent data: inline, byte for byte.
    s.got.clear()
    msg = b"URGENT-hello-world"
    s.send(s.data(msg, flags="PAU", urgptr=5))
    r = s.recv(1.5, until=lambda t: len(bytes(t.payload)) >= len(msg))
    res["urgent_echo"] = b"".join(bytes(t.payload) for t in r) == msg
    return res


def reassemble(pieces):
    out = bytearray()
    for off in sorted(pieces):
        pl = pieces[off]
        if off > len(out):
            break
        out[off:off + len(pl)] = pl
    return bytes(out)


def bad_segments(s):
    """Bad checksum and malformed options on an established connection:
    dropped (never acknowledged), counted; a good segment afterwards is."""
    s.handshake()
    start = s.snd_nxt
    res = {}

    def acked_after(pkt, wait=0.6):
        s.got.clear()
        s.send(pkt)
        r = s.recv(wait, until=lambda t: t.flags.A and rel(t.ack, start) > 0)
        return max([rel(t.ack, start) for t in r if t.flags.A] or [0])

    res["bad_csum_acked"] = acked_after(s.seg("PA", data=b"x" * 100, chksum=0x1234))
    # Option of length 0 (kind 99), and a timestamp option whose length runs
    # past the header: raw bytes after a 20-byte header with dataofs 6.
    bad0 = s.seg("PA", dataofs=6, data=b"\x63\x00\x01\x01" + b"y" * 100)
    res["opt_len0_acked"] = acked_after(bad0)
    badlong = s.seg("PA", dataofs=6, data=b"\x08\x0a\x00\x00" + b"z" * 100)
    res["opt_past_hdr_acked"] = acked_after(badlong)
    badoff = s.seg("PA", dataofs=15, data=b"w" * 10)
    res["off_past_seg_acked"] = acked_after(badoff)
    res["good_acked"] = acked_after(s.data(b"ok" * 50))
    return res


def zero_window_probe(s):
    """chargen fills our small window; we advertise 0; spin must probe,
    and resume when the window opens."""
    s.handshake(win=3000)
    s.recv(1.0)
    # Every byte spin sent (retransmissions counted once).
    edge = max([(t.seq + len(bytes(t.payload))) % M32 for t in s.got
                if bytes(t.payload)], key=lambda x: rel(x, s.rcv_nxt), default=s.rcv_nxt)
    got = rel(edge, s.rcv_nxt)
    s.send(s.seg("A", ack=edge, win=0))
    s.got.clear()
    t0 = time.monotonic()
    # Everything sent so far is acknowledged: whatever comes now is a probe.
    # The persist timer starts at the RTO and backs off; wait for the first.
    r = s.recv(5.0, until=lambda t: rel(t.seq, edge) >= -1)
    probes = [t for t in r if rel(t.seq, edge) >= -1]
    res = {"received_first": got, "segments_in_zero_window": len(r), "probes": len(probes),
           "first_probe_after_s": None}
    if probes:
        res["first_probe_after_s"] = round(time.monotonic() - t0, 3)
    # Answer the probe with the window open again: data resumes.
    s.got.clear()
    s.send(s.seg("A", ack=edge, win=65535))
    r = s.recv(1.5, until=lambda t: len(bytes(t.payload)) > 1 and rel(t.seq, edge) >= 0)
    res["resumed"] = any(len(bytes(t.payload)) > 1 and rel(t.seq, edge) >= 0 for t in r)
    return res


SCENARIOS = {"rst_syn": (rst_syn, 7), "window_trim": (window_trim, 7),
             "reassembly_urgent": (reassembly_urgent, 7), "bad_segments": (bad_segments, 7),
             "zero_window_probe": (zero_window_probe, 19)}


def main():
    name, iface, spin_mac, my_mac = sys.argv[1:5]
    fn, port = SCENARIOS[name]
    s = Sess(iface, spin_mac, my_mac, port)
    try:
        res = fn(s)
    finally:
        s.close()
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
