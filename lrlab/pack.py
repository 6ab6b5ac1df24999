"""Carry results home from a bare GPU box, and merge them into a results folder.

A GPU job may hand back only a few files of limited size, and what comes back may be cut short,
tampered with, or not ours. So `pack` writes a few size-capped gzip tars, each opening with a
manifest that names every member with its sha256; `unpack` checks every tar and decides every
action before it writes a single file: a bad pack changes nothing, a record never silently
replaces a different one, and a partial checkpoint never stands beside its finished record.

Layout inside a pack, relative to the results root (the same as in it):
    <profile>/<experiment>/<id>.json               run records
    bench/<name>.json, jobs/<name>.json            bench records, job logs
    .checkpoints/<profile>/<experiment>/<id>.pt    runs in progress
    .checkpoints/<profile>/starts/<name>.pt        the weights fine-tuned runs start from
Only the standard library here (and lrlab.results): this runs on the bare box.
"""
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lrlab import results
from lrlab.errors import LrlabError, one_line
from lrlab.files import write_atomically

FORMAT = "lrlab-pack/1"
MANIFEST = "LRLAB-PACK.json"
PACK_NAME = "lrlab-pack-{}.tgz"
KINDS = ("record", "bench", "job", "checkpoint", "start")       # also the order files go into packs
SUMMARY_KEYS = {"record": "records", "bench": "bench", "job": "jobs", "checkpoint": "checkpoints", "start": "starts"}
LAYOUT = ("<profile>/<experiment>/<id>.json, bench/<name>.json, jobs/<name>.json, "
          ".checkpoints/<profile>/<experiment>/<id>.pt, .checkpoints/<profile>/starts/<name>.pt")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")      # one path part: no dot files, no separators
COMPRESSLEVEL = 6
PER_FILE_OVERHEAD = 256    # a member's tar header and manifest line, compressed, generously
PER_PACK_OVERHEAD = 2048   # gzip header/trailer, tar end blocks, the manifest's fixed part
MANIFEST_MAX_BYTES = 64 << 20


@dataclass
class _Candidate:
    """A file to pack: read once to hash it and to estimate its compressed size."""
    path: Path
    rel: str
    kind: str
    size: int
    sha256: str
    mtime: int
    estimate: int


@dataclass
class _Member:
    """A verified file from a pack."""
    rel: str
    kind: str
    data: bytes
    source: Path


# ----------------------------------------------------------------------------- layout

def kind_of(rel):
    """'record', 'bench', 'job', 'checkpoint' or 'start' for a path (relative, posix) in the layout; else None."""
    parts = rel.split("/")
    profiles = results.PROFILES   # read now: profiles are added over time
    if not all(NAME.match(p) for p in parts[1:]):
        return None
    if len(parts) == 3 and parts[0] in profiles and parts[2].endswith(".json"):
        return "record"
    if len(parts) == 2 and parts[0] in ("bench", "jobs") and parts[1].endswith(".json"):
        return "bench" if parts[0] == "bench" else "job"
    if len(parts) == 4 and parts[0] == ".checkpoints" and parts[1] in profiles and parts[3].endswith(".pt"):
        return "start" if parts[2] == results.STARTS else "checkpoint"
    return None


def _is_unsafe(name):
    """Absolute, `..`, `.` or empty parts, backslashes, NULs: a path that could land outside the root."""
    return (not isinstance(name, str) or not name or name.startswith("/") or "\\" in name or "\0" in name
            or any(part in ("", ".", "..") for part in name.split("/")))


def _record_rel_of_checkpoint(rel):
    _, profile, experiment, name = rel.split("/")
    return f"{profile}/{experiment}/{name[:-len('.pt')]}.json"


def _checkpoint_rel_of_record(rel):
    profile, experiment, name = rel.split("/")
    return f".checkpoints/{profile}/{experiment}/{name[:-len('.json')]}.pt"


def _mib(n):
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


# ----------------------------------------------------------------------------- pack

def pack(results_root, out_dir, newer_than=None, max_files=6, max_bytes=15 * 2**20, log=print):
    """Write the results files newer than `newer_than` into at most `max_files` gzip tars of at most
    `max_bytes` each in `out_dir`; return their paths. Records and logs go first, checkpoints and starts after;
    a file that cannot fit is left out with a log line naming it."""
    root, out = Path(results_root), Path(out_dir)
    if not root.is_dir():
        raise LrlabError(f"results folder {root} does not exist")
    _check_count("max_files", max_files)
    _check_count("max_bytes", max_bytes)
    cutoff_ns = _cutoff_ns(newer_than)
    if out.exists() and not out.is_dir():
        raise LrlabError(f"pack folder {out} is a file; name a folder")
    old = sorted(out.glob("lrlab-pack-*.tgz")) if out.is_dir() else []
    if old:
        raise LrlabError(f"{out} already holds {old[0].name}; pack into an empty folder, or remove the old packs")

    candidates = _collect(root, cutoff_ns, log)
    if not candidates:
        log(f"nothing to pack in {root}" + ("" if newer_than is None else f" newer than {newer_than}"))
        return []
    out.mkdir(parents=True, exist_ok=True)
    estimate = {c.rel: c.estimate for c in candidates}
    for _ in range(10):   # each round that overshoots raises the estimates it was wrong about
        parts, left_out = _plan(candidates, estimate, max_files, max_bytes)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        temps = []
        try:
            sizes = []
            for n, files in enumerate(parts, 1):
                fd, temp = tempfile.mkstemp(dir=out, prefix=f".lrlab-pack-{n}.", suffix=".tmp")
                os.close(fd)
                temps.append(Path(temp))
                try:
                    _write_pack(Path(temp), n, len(parts), files, created, root)
                except OSError as e:
                    raise LrlabError(f"cannot write a pack in {out}: {one_line(e)}") from None
                sizes.append(Path(temp).stat().st_size)
            over = [i for i, size in enumerate(sizes) if size > max_bytes]
            if not over:
                finals = [out / PACK_NAME.format(n) for n in range(1, len(parts) + 1)]
                for temp, final in zip(temps, finals):
                    os.replace(temp, final)
                temps = []
                for final, files, size in zip(finals, parts, sizes):
                    log(f"wrote {final}: {len(files)} file(s), {_mib(size)}")
                for c, why in left_out:
                    log(f"left out {c.rel} ({_mib(c.size)}): {why}")
                return finals
            for i in over:
                planned = PER_PACK_OVERHEAD + sum(estimate[c.rel] + PER_FILE_OVERHEAD for c in parts[i])
                ratio = sizes[i] / planned
                for c in parts[i]:
                    estimate[c.rel] = int(estimate[c.rel] * ratio * 1.05) + 1024
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
    raise LrlabError(f"could not split {len(candidates)} files into packs of at most {max_bytes} bytes; "
                     "raise max_bytes")


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LrlabError(f"{name} must be a whole number >= 1, got {value!r}")


def _cutoff_ns(newer_than):
    """A POSIX timestamp, or a marker file whose mtime is used, as nanoseconds; None: no cutoff."""
    if newer_than is None:
        return None
    if isinstance(newer_than, (int, float)) and not isinstance(newer_than, bool):
        seconds = float(newer_than)
    elif Path(newer_than).exists():
        return Path(newer_than).stat().st_mtime_ns
    else:
        try:
            seconds = float(str(newer_than))
        except ValueError:
            seconds = float("nan")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise LrlabError(f"newer-than {newer_than!r} is neither an existing file nor a POSIX timestamp "
                         "(seconds since 1970, e.g. 1735689600)")
    return int(seconds * 1e9)


def _collect(root, cutoff_ns, log):
    """The files to pack, records and logs first: sorted, hashed, with a compressed-size estimate."""
    profiles = dict.fromkeys(results.PROFILES)   # read now (profiles are added over time), each once
    patterns = ([(f"{p}/*/*.json", "record") for p in profiles] + [("bench/*.json", "bench"), ("jobs/*.json", "job")]
                + [(f".checkpoints/{p}/*/*.pt", "checkpoint") for p in profiles]
                + [(f".checkpoints/{p}/{results.STARTS}/*.pt", "start") for p in profiles])
    found = []
    for pattern, kind in patterns:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if path.name.startswith("."):
                continue   # a temp file of an atomic write in progress
            if cutoff_ns is not None and path.lstat().st_mtime_ns <= cutoff_ns:
                continue
            if kind == "checkpoint" and kind_of(rel) == "start":
                continue   # packed as a start, by its own pattern
            if kind_of(rel) != kind or path.is_symlink() or not path.is_file():
                log(f"left out {rel}: not a plain file with a name unpack accepts ({LAYOUT})")
                continue
            if kind == "checkpoint" and (root / _record_rel_of_checkpoint(rel)).exists():
                log(f"left out {rel}: its run's record exists, so the checkpoint is stale")
                continue
            found.append(_measure(path, rel, kind))
    return found


def _measure(path, rel, kind):
    digest, compressor = hashlib.sha256(), zlib.compressobj(COMPRESSLEVEL, zlib.DEFLATED, 31)
    size = compressed = 0
    mtime = int(path.stat().st_mtime)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            compressed += len(compressor.compress(chunk))
    compressed += len(compressor.flush())
    return _Candidate(path, rel, kind, size, digest.hexdigest(), mtime, compressed)


def _plan(candidates, estimate, max_files, max_bytes):
    """First fit, in priority order: each file goes into the first pack it fits, else a new one."""
    parts, loads, left_out = [], [], []
    for c in candidates:
        cost = estimate[c.rel] + PER_FILE_OVERHEAD
        if PER_PACK_OVERHEAD + cost > max_bytes:
            left_out.append((c, f"alone it makes a pack of about {_mib(PER_PACK_OVERHEAD + cost)}, "
                                f"over the limit of {_mib(max_bytes)}"))
            continue
        for i, load in enumerate(loads):
            if load + cost <= max_bytes:
                parts[i].append(c)
                loads[i] += cost
                break
        else:
            if len(parts) < max_files:
                parts.append([c])
                loads.append(PER_PACK_OVERHEAD + cost)
            else:
                left_out.append((c, f"no room: all {max_files} packs are full"))
    return parts, left_out


class _HashingReader:
    """Hashes what tarfile reads, so a file changed since it was measured is caught."""

    def __init__(self, f):
        self.f, self.digest = f, hashlib.sha256()

    def read(self, n=-1):
        data = self.f.read(n)
        self.digest.update(data)
        return data


def _write_pack(path, part, parts, files, created, root):
    manifest = dict(format=FORMAT, created=created, part=part, parts=parts,
                    files=[dict(path=c.rel, size=c.size, sha256=c.sha256) for c in files])
    body = json.dumps(manifest, indent=1).encode()
    with open(path, "wb") as raw:
        # filename="" and mtime=0: the gzip header names no temp file and the bytes are reproducible
        with gzip.GzipFile(filename="", mode="wb", compresslevel=COMPRESSLEVEL, fileobj=raw, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_tarinfo(MANIFEST, len(body), int(datetime.now().timestamp())), io.BytesIO(body))
                for c in files:
                    with open(c.path, "rb") as f:
                        reader = _HashingReader(f)
                        if os.fstat(f.fileno()).st_size == c.size:
                            tar.addfile(_tarinfo(c.rel, c.size, c.mtime), reader)
                    if reader.digest.hexdigest() != c.sha256:
                        raise LrlabError(f"{root / c.rel} changed while it was being packed; "
                                         "pack again once nothing writes to the results folder")
        raw.flush()
        os.fsync(raw.fileno())


def _tarinfo(name, size, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# ----------------------------------------------------------------------------- unpack

def unpack(paths, results_root, log=print):
    """Check every pack in `paths`, then merge their files into `results_root`; return counts of
    files written, skipped (identical) and dropped per kind. Any bad pack or conflict raises a
    one-line LrlabError before anything is written."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise LrlabError("no packs given; name the lrlab-pack-*.tgz files to unpack")
    root = Path(results_root)
    if root.exists() and not root.is_dir():
        raise LrlabError(f"results folder {root} is a file")

    incoming, seen_parts = {}, {}
    for path in paths:
        manifest, members = _read_pack(path)
        seen_parts.setdefault((manifest["created"], manifest["parts"]), set()).add(manifest["part"])
        for m in members:
            earlier = incoming.setdefault(m.rel, m)
            if earlier.data != m.data:
                raise LrlabError(f"conflict: {m.rel} differs between {earlier.source} and {m.source}; "
                                 "nothing was unpacked")
    for (created, parts), got in sorted(seen_parts.items()):
        if len(got) < parts:
            log(f"note: got part(s) {', '.join(map(str, sorted(got)))} of the {parts} packed at {created}")

    writes, counts = _decide(incoming, root, log)
    for m in writes:
        write_atomically(root / m.rel, lambda f: f.write(m.data))   # the packed bytes: byte-for-byte the original
        counts[m.kind]["written"] += 1
    for rel in sorted(rel for rel, m in incoming.items() if m.kind == "record"):
        # a checkpoint carried to the other machine, whose run finished there: stale here now
        stale = root / _checkpoint_rel_of_record(rel)
        if stale.is_file():
            stale.unlink()
            log(f"removed {stale}: its run finished elsewhere and its record is here now")
    if counts["start"]["written"]:
        log(f"{counts['start']['written']} start(s) of fine-tuned runs: commit them with the records (the next job "
            "carries them and does not train them again)")
    if counts["checkpoint"]["written"]:
        log(f"{counts['checkpoint']['written']} checkpoint(s) of runs in flight: commit them with the records "
            "(a later job may start from a fresh checkout, where an ignored checkpoint is gone)")
    summary = {SUMMARY_KEYS[kind]: counts[kind] for kind in KINDS}
    counted = [f"{key} {c['written']} written, {c['skipped']} skipped" + (f", {c['dropped']} dropped" if c["dropped"] else "")
               for key, c in summary.items() if any(c.values())]
    log(f"unpacked {len(paths)} pack(s) into {root}: " + ("; ".join(counted) or "they hold no files"))
    return summary


def _read_pack(path):
    """The manifest and the verified members of one pack; a one-line LrlabError for anything amiss."""
    if not path.is_file():
        raise LrlabError(f"pack {path} does not exist")
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            infos = iter(tar)
            first = next(infos, None)
            if first is None or first.name != MANIFEST or not first.isreg() or first.size > MANIFEST_MAX_BYTES:
                raise LrlabError(f"{path} is not an lrlab pack: it does not open with {MANIFEST}")
            manifest = _parse_manifest(tar.extractfile(first).read(), path)
            expected = {f["path"]: f for f in manifest["files"]}
            members, seen = [], set()
            for info in infos:
                members.append(_read_member(tar, info, expected, seen, path))
                seen.add(info.name)
            while tar.fileobj.read(1 << 20):   # read to the gzip trailer: its CRC catches a cut-off end
                pass
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise LrlabError(f"cannot read pack {path}: {one_line(e)} (truncated, or not a gzip tar)") from None
    missing = sorted(set(expected) - {m.rel for m in members})
    if missing:
        raise LrlabError(f"pack {path} lacks {len(missing)} file(s) its manifest lists, e.g. {missing[0]} "
                         "(truncated or tampered)")
    return manifest, members


def _parse_manifest(body, path):
    try:
        manifest = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        manifest = None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(files, list):
        raise LrlabError(f"{path}: {MANIFEST} is not an {FORMAT} manifest")
    for key in ("part", "parts"):
        if isinstance(manifest.get(key), bool) or not isinstance(manifest.get(key), int) or manifest[key] < 1:
            raise LrlabError(f"{path}: {MANIFEST} has no valid {key!r}")
    seen = set()
    for entry in files:
        ok = (isinstance(entry, dict) and isinstance(entry.get("path"), str)
              and isinstance(entry.get("size"), int) and not isinstance(entry.get("size"), bool)
              and entry["size"] >= 0 and isinstance(entry.get("sha256"), str)
              and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) is not None)
        if not ok:
            raise LrlabError(f"{path}: {MANIFEST} has a malformed file entry {entry!r:.80}")
        _check_path(entry["path"], path)
        if entry["path"] in seen:
            raise LrlabError(f"{path}: {MANIFEST} lists {entry['path']} twice")
        seen.add(entry["path"])
    manifest.setdefault("created", "")
    return manifest


def _check_path(name, path):
    if _is_unsafe(name):
        raise LrlabError(f"pack {path} holds an unsafe path {name!r} (absolute, '..' or empty parts); refused")
    if kind_of(name) is None:
        raise LrlabError(f"pack {path} holds {name}, outside the results layout "
                         f"({LAYOUT}; profiles {', '.join(results.PROFILES)}); refused")


def _read_member(tar, info, expected, seen, path):
    name = info.name
    if not info.isreg():
        what = ("a symlink" if info.issym() else "a hard link" if info.islnk() else "a folder" if info.isdir()
                else "a device or fifo" if (info.ischr() or info.isblk() or info.isfifo()) else "not a regular file")
        raise LrlabError(f"pack {path}: member {name!r} is {what}; packs hold regular files only")
    _check_path(name, path)
    if name not in expected:
        raise LrlabError(f"pack {path}: member {name} is not in its manifest (tampered, or not an lrlab pack)")
    if name in seen:
        raise LrlabError(f"pack {path}: member {name} appears twice")
    want = expected[name]
    if info.size != want["size"]:
        raise LrlabError(f"pack {path}: {name} is {info.size} bytes, its manifest says {want['size']} "
                         "(truncated or tampered)")
    data = tar.extractfile(info).read()
    if len(data) != want["size"] or hashlib.sha256(data).hexdigest() != want["sha256"]:
        raise LrlabError(f"pack {path}: checksum mismatch for {name} (truncated or tampered)")
    kind = kind_of(name)
    _check_content(name, kind, data, path)
    return _Member(name, kind, data, path)


def _check_content(name, kind, data, path):
    """A record must be a valid run record at its own path; bench and job logs the right JSON;
    a checkpoint or a start a torch.save (zip) file."""
    where = f"{name} in {path}"
    if kind in ("checkpoint", "start"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                ok = any(n.endswith("/data.pkl") or n == "data.pkl" for n in z.namelist())
        except zipfile.BadZipFile:
            ok = False
        if not ok:
            raise LrlabError(f"{kind} {where} is not a torch.save file")
        return
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LrlabError(f"{where} is not JSON") from None
    if kind == "record":
        try:
            results.validate_record(obj, where)
        except LrlabError:
            raise
        except Exception as e:   # e.g. a config that is not a mapping
            raise LrlabError(f"corrupt record {where}: {one_line(e)}") from None
        profile, experiment, file = name.split("/")
        said = (obj["profile"], obj["experiment"], f"{obj['id']}.json")
        if said != (profile, experiment, file):
            raise LrlabError(f"record {where} says profile {said[0]}, experiment {said[1]}, id {obj['id']}; "
                             "its path disagrees")
    elif kind == "bench":
        results.validate_bench_record(obj, where)
    elif not isinstance(obj, dict) or obj.get("kind") != "job" or "env" not in obj:
        raise LrlabError(f"job log {where} is not a JSON object with kind 'job' and env")


def _decide(incoming, root, log):
    """What to write, skip or drop, decided before anything is written; raises on a conflict."""
    counts = {kind: dict(written=0, skipped=0, dropped=0) for kind in KINDS}
    records = {rel for rel, m in incoming.items() if m.kind == "record"}
    writes = []
    for m in sorted(incoming.values(), key=lambda m: (KINDS.index(m.kind), m.rel)):
        dest = root / m.rel
        _check_parents(dest, root)
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            raise LrlabError(f"conflict: {dest} exists and is not a plain file; nothing was unpacked")
        if m.kind == "checkpoint":
            record = _record_rel_of_checkpoint(m.rel)
            if record in records or (root / record).exists():
                log(f"dropped {m.rel}: its run's record exists, and a finished record is never "
                    "set beside a partial run")
                counts["checkpoint"]["dropped"] += 1
                continue
        if dest.exists():
            if dest.read_bytes() == m.data:
                counts[m.kind]["skipped"] += 1
                continue
            if m.kind == "start":   # trained twice: the runs here started from this one, and so shall the rest
                log(f"kept {dest}: the runs that fine-tune from it here started from it; the other training of "
                    f"it in {m.source} is left out")
                counts["start"]["dropped"] += 1
                continue
            if m.kind != "checkpoint":
                raise LrlabError(f"conflict: {dest} differs from the one in {m.source}; nothing was unpacked "
                                 "(move one of them aside and unpack again)")
            log(f"replacing {dest} with the checkpoint from {m.source}")
        writes.append(m)
    return writes, counts


def _check_parents(dest, root):
    for parent in dest.relative_to(root).parents:
        if parent != Path(".") and (root / parent).exists() and not (root / parent).is_dir():
            raise LrlabError(f"conflict: {root / parent} is a file where a folder belongs; nothing was unpacked")


