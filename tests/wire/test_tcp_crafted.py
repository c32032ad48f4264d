"""Hand-made segments against spin's TCP (Scapy, tests/wire/lib/tcp_craft.py).

    [cli ns: veth-c; Scapy speaks as 198.18.0.10] ---- [spin 198.18.0.2: echo 7, chargen 19]

  rst_syn            RST in the window but not at rcv_nxt, and SYN (in and
                     out of the window) on ESTABLISHED: a challenge ACK each
                     (RFC 5961), the connection lives on; RST outside the
                     window: silence; RST at rcv_nxt: the connection ends.
  window_trim        spin's window filled (echo, our window 0); a segment
                     across the right edge is cut at the edge; one wholly
                     beyond is not acknowledged.
  reassembly_urgent  overlapping, out-of-order and repeated pieces come back
                     from the echo as exactly the stream; urgent data is
                     echoed inline (RFC 6093).
  bad_segments       bad checksum, option length 0, option past the header,
                     data offset past the segment: dropped and counted; a
                     good segment after them is acknowledged.
  zero_window_probe  chargen facing a zero window probes it and resumes.
"""
import json
import pathlib

from lib.tcp_lab import PY, SLOW, TcpLab

CRAFT = str(pathlib.Path(__file__).resolve().parent / "lib" / "tcp_craft.py")
CRAFT_ADDR = "198.18.0.10"


def run(lab, build_dir, tmp_path, scenario):
    t = TcpLab(lab, build_dir, tmp_path, name="craft")
    # spin reaches the crafted address through a static ARP entry.
    t.conf.write_text(t.conf.read_text() + f"arp eth0 {CRAFT_ADDR} {t.cli_mac}\n")
    t.ctl("reload")
    r = t.cli.sh(PY, CRAFT, scenario, "veth-c", t.spin_mac, t.cli_mac, check=False,
                 timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr[-3000:]
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert line, r.stdout
    return t, json.loads(line[-1][7:])


def test_rst_syn_challenge(lab, build_dir, tmp_path):
    t, res = run(lab, build_dir, tmp_path, "rst_syn")
    assert res["echo_before"], res
    assert res["rst_inwin_challenge"], res
    assert res["rst_outwin_answers"] == 0, res["rst_outwin_detail"]
    assert res["syn_inwin_challenge"] and res["syn_outwin_challenge"], res
    assert res["echo_after"], res
    assert res["reset_after_exact_rst"], res
    st = t.stats()
    assert st["challenge_acks"] >= 3, st
    d = t.drops()
    assert d.get("bad_rst", 0) >= 1 and d.get("bad_syn", 0) >= 2, d
    t.stop_clean()


def test_window_trim(lab, build_dir, tmp_path):
    t, res = run(lab, build_dir, tmp_path, "window_trim")
    # The straddling segment: exactly the part inside the window is taken.
    assert 0 <= res["left"] < 1460, res
    assert res["acked_of_straddling"] == res["left"], res
    assert res["window_after"] == [0], res
    assert all(a <= res["left"] for a in res["beyond_acks"]), res
    t.stop_clean()


def test_reassembly_and_urgent(lab, build_dir, tmp_path):
    t, res = run(lab, build_dir, tmp_path, "reassembly_urgent")
    assert res["echo_exact"], res
    assert res["sack_seen"], res
    assert res["urgent_echo"], res
    st = t.stats()
    assert st["ooo_segs"] >= 1, st
    t.stop_clean()


def test_bad_segments_dropped(lab, build_dir, tmp_path):
    t, res = run(lab, build_dir, tmp_path, "bad_segments")
    assert res["bad_csum_acked"] == 0, res
    assert res["opt_len0_acked"] == 0, res
    assert res["opt_past_hdr_acked"] == 0, res
    assert res["off_past_seg_acked"] == 0, res
    assert res["good_acked"] == 100, res
    d = t.drops()
    assert d.get("bad_csum", 0) >= 1, d
    assert d.get("bad_opt", 0) >= 2, d
    assert d.get("bad_off", 0) >= 1, d
    t.stop_clean()


def test_zero_window_probe(lab, build_dir, tmp_path):
    t, res = run(lab, build_dir, tmp_path, "zero_window_probe")
    assert res["received_first"] >= 1000, res
    assert res["probes"] >= 1, res
    assert res["resumed"], res
    assert t.stats()["zero_window_probes"] >= 1
    t.stop_clean()
