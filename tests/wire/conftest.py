"""Fixtures shared by every wire test.

lab: a lib.netns.Lab whose namespaces and processes are removed after the
     test, pass or fail.
build_dir: the build to test (SPIN_BUILD, else <repo>/build).
prog: path of a program built from tests/wire/progs (fails, never skips,
      when it is missing: every wire test is required).
"""
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from lib.netns import Lab  # noqa: E402


@pytest.fixture
def lab(request):
    lab = Lab(tag=request.node.name)
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def build_dir():
    return pathlib.Path(os.environ.get("SPIN_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def prog(build_dir):
    def find(name):
        path = build_dir / "tests" / "wire" / "progs" / name
        if not path.exists():
            pytest.fail(f"{path} is not built (ninja -C {build_dir})")
        return str(path)
    return find


@pytest.fixture(scope="session", autouse=True)
def need_root():
    if os.geteuid() != 0:
        pytest.fail("wire tests need root (network namespaces)")
