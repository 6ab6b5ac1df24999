"""gpu/rehearse.sh, the CPU rehearsal of a GPU job with the device's packages: what it refuses before building
anything (the rehearsal itself downloads the device's torch, ~5 GB, so the tests do not run it whole)."""
import pathlib
import subprocess

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "gpu" / "rehearse.sh"


@pytest.mark.parametrize("present, says", [
    ((), ("no .stage", "lrlab stage")),                         # the device call would carry nothing
    ((".stage",), ("no .venv", "make .venv/.installed")),      # the jobs' packs could not be unpacked here
])
def test_what_is_missing_is_one_line_and_nothing_is_built(tmp_path, present, says):
    for folder in present:
        (tmp_path / folder).mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    out = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(cache), "XDG_CACHE_HOME": str(cache)})
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert all(word in out.stderr for word in says), out.stderr
    assert not any(cache.iterdir())
