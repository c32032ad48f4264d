"""Golden test: a Scapy-made pcap (golden/in.pcap) goes in through the pcap
driver; what spin writes to the output pcap must equal golden/expected.pcap
frame for frame, byte for byte.  Regenerate both with golden/gen_golden.py.
"""
import pathlib
import subprocess

from scapy.all import rdpcap

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def test_golden(build_dir, tmp_path):
    out = tmp_path / "out.pcap"
    conf = tmp_path / "golden.conf"
    text = (ROOT / "examples" / "golden.conf").read_text()
    text = text.replace("/tmp/spin-golden-out.pcap", str(out))
    text = text.replace("tests/wire/golden/in.pcap", str(HERE / "golden" / "in.pcap"))
    text = text.replace("/tmp/spin-golden.sock", str(tmp_path / "g.sock"))
    conf.write_text(text)
    r = subprocess.run([str(build_dir / "spin"), "run", str(conf), "--until-eof"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    got = [bytes(f) for f in rdpcap(str(out))]
    want = [bytes(f) for f in rdpcap(str(HERE / "golden" / "expected.pcap"))]
    assert got == want
