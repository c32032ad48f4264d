"""Shared helpers for wire tests: namespaces, veth pairs, processes
(netns.py) and a Linux UDP peer (udp_peer.py)."""
