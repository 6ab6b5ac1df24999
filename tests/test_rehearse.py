"""gpu/rehearse.sh, the CPU rehearsal of a GPU job with the device's packages: what it refuses before building
anything (the rehearsal itself downloads the device's torch, ~5 GB, so the tests do not run it whole)."""
import pathlib
import subprocess

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "gpu" / "rehearse.sh"


def rehearse(cwd, cache):
    return subprocess.run(["bash", str(SCRIPT)], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cache), "XDG_CACHE_HOME": str(cache)})


def test_without_a_stage_it_says_to_stage_first_and_builds_nothing(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    out = rehearse(tmp_path, cache)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "no .stage" in out.stderr and "lrlab stage" in out.stderr
    assert not any(cache.iterdir())


def test_without_the_checkouts_venv_it_says_how_to_make_it(tmp_path):
    (tmp_path / ".stage").mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    out = rehearse(tmp_path, cache)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "no .venv" in out.stderr and "make .venv/.installed" in out.stderr
    assert not any(cache.iterdir())
