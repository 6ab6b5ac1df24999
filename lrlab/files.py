"""Writing a file so that no reader ever sees half of it: the store, the data cache and unpacking share it."""
import os
import pathlib
import tempfile


def write_atomically(path, write):
    """Call `write(binary file)` on a temp file in the same folder, fsync, then rename it to `path`.
    A kill at any point leaves the old file or the new one, never a mix; the file is 0644 (mkstemp
    makes 0600, and records and caches are for everyone to read)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
