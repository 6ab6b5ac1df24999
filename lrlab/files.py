"""Writing a file so that no reader ever sees half of it: the store, the data cache and unpacking share it."""
import os
import pathlib
import tempfile

TEMP_SUFFIX = ".tmp"


def write_atomically(path, write):
    """Call `write(binary file)` on a temp file in the same folder, fsync, then rename it to `path`.
    A kill at any point leaves the old file or the new one, never a mix; the file is 0644 (mkstemp
    makes 0600, and records and caches are for everyone to read)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: a later start can tell a dead writer's leftover from a live one's file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX)
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


def _writer_alive(temp):
    """Whether the process that made temp file `temp` (.<name>.<pid>.<random>.tmp) still runs."""
    parts = temp.name.split(".")
    if len(parts) < 5 or not parts[-3].isdigit():
        return False   # not one of ours with a pid (an older name): nobody is writing it now
    try:
        os.kill(int(parts[-3]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process: alive
        return True
    return True


def remove_stale_temporaries(folder):
    """Delete the temp files a killed writer left in `folder` (and below); a live writer's stay.
    Returns how many went."""
    folder = pathlib.Path(folder)
    stale = [p for p in folder.rglob(f".*{TEMP_SUFFIX}") if p.is_file() and not _writer_alive(p)] \
        if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
