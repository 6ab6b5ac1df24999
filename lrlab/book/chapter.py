"""What the chapters share when they read their own data (the book layer: it reads, never trains).

A chapter opens its records with `open_chapter`. At profile "auto" each part of the chapter (an
experiment's `parts(profile)`: the runs one figure or table reads) comes from the best profile
that has it: `full`, else `gpu`, else `quick`. GPU work arrives in chunks (`lrlab queue`), so a
part counts at a profile as far as that profile's finished chunks cover it (the first chunk of
the width sweep is its odd octaves: those are shown, marked "8 of 16 runs", before the rest is
trained), and a part whose shown runs are all another part's waits for one of its own. Parts an
experiment names in `SHOWN_TOGETHER` are compared with each other, so they come from one profile. A named profile ("quick", "smoke", ...) shows every part from that profile alone.
"""
import sys
from dataclasses import dataclass, replace

from lrlab import experiments
from lrlab.errors import LrlabError, check_choice
from lrlab.progress import declared_records
from lrlab.names import PROFILES
from lrlab.results import Store, history_frame, noise_scale_frame, runs_frame
from lrlab.stats import listed

BETTER_THAN_QUICK = ("full", "gpu")   # what "auto" looks for first, best first
PROFILE_WORDS = {"full": "full (paper scale)", "gpu": "GPU", "quick": "quick (CPU)", "smoke": "smoke"}


@dataclass(frozen=True)
class Part:
    """The records a chapter shows for one part, and where they come from."""
    name: str
    profile: str
    records: tuple     # in declared order
    declared: int      # the part's runs at that profile: more than len(records) while its chunks are pending

    @property
    def complete(self):
        return len(self.records) == self.declared

    title: str = ""    # how the page names it: the experiment's PART_TITLES, else the name in words

    @property
    def label(self):
        return self.title or self.name.replace("_", " ")


def _recorded(store, name, profile):
    """id -> record of every finished (or diverged) run of `name` at `profile`; corrupt ones count as
    missing here (`lrlab status` reports them, the sweep redoes them)."""
    return {config.id: record for config, _, record in declared_records(name, profile, store)
            if record is not None}


def _finished_chunk_ids(name, profile, recorded):
    """The runs of every chunk of `name` at `profile` whose runs are all recorded."""
    return {c.id for chunk in experiments.chunks(name, profile) if all(r.id in recorded for r in chunk.runs)
            for c in chunk.runs}


def _runs(n):
    return f"{n} run" + ("" if n == 1 else "s")


def _groups(module, names):
    """The parts in groups shown from one profile: the module's SHOWN_TOGETHER, the rest alone."""
    together = [tuple(p for p in group if p in names) for group in getattr(module, "SHOWN_TOGETHER", ())]
    grouped = {p for group in together for p in group}
    return [g for g in together if g] + [(p,) for p in names if p not in grouped]


def _own_ids(declared, group):
    """The ids of the runs of `group`'s parts that no other part declares (Part 3 of the width chapter reuses
    Part 1's runs as its no-decay points: those alone do not show Part 3 at a profile)."""
    inside = {c.id for p in group for c in declared.get(p, [])}
    return inside - {c.id for p, configs in declared.items() if p not in group for c in configs}


def open_chapter(name, profile="auto", results=None, allow_training=False, device="cpu", data_root=None):
    """The chapter's records, part by part. A named profile must be complete (or, with
    `allow_training`, is trained first); "auto" takes each part from the best profile that has it."""
    if profile != "auto":
        check_choice("profile", profile, PROFILES + ("auto",))
    module = experiments.get(name)
    store = Store(results)
    if profile != "auto":
        ensure_runs(name, profile, results, allow_training, device, data_root)
        recorded = _recorded(store, name, profile)
        parts = {p: Part(p, profile, tuple(recorded[c.id] for c in configs), len(configs))
                 for p, configs in module.parts(profile).items()}
        return Chapter(name, profile, _titled(module, parts), results)

    declared = {p: module.parts(p) for p in BETTER_THAN_QUICK + ("quick",)}
    names = list(dict.fromkeys(n for p in declared.values() for n in p))
    chosen = {}
    for candidate in BETTER_THAN_QUICK:
        recorded = _recorded(store, name, candidate)
        if not recorded:
            continue
        shown = _finished_chunk_ids(name, candidate, recorded)
        for group in _groups(module, names):
            if any(p in chosen for p in group):
                continue
            views = {p: [c for c in declared[candidate].get(p, []) if c.id in shown] for p in group}
            own = _own_ids(declared[candidate], group)
            # every part of the group that this profile declares must have something to show, and the group
            # a run of its own where it has any (borrowed runs alone are another part's result)
            if (any(views.values()) and all(views[p] for p in group if declared[candidate].get(p))
                    and (not own or any(c.id in own for v in views.values() for c in v))):
                for p in group:
                    chosen[p] = Part(p, candidate, tuple(recorded[c.id] for c in views[p]),
                                     len(declared[candidate].get(p, [])))
    if any(p not in chosen and declared["quick"].get(p) for p in names):
        ensure_runs(name, "quick", results, allow_training, device, data_root)
        recorded = _recorded(store, name, "quick")
        for p in names:
            if p not in chosen:
                configs = declared["quick"].get(p, [])
                chosen[p] = Part(p, "quick", tuple(recorded[c.id] for c in configs), len(configs))
    for p in names:   # declared only at a profile that has nothing of it yet: shown as empty
        chosen.setdefault(p, Part(p, "quick", (), 0))
    return Chapter(name, "auto", _titled(module, {p: chosen[p] for p in names}), results)


def ensure_runs(name, profile, results=None, allow_training=False, device="cpu", data_root=None):
    """The records of `name` at `profile` must exist; with `allow_training` (tests, a reader's own
    machine) the missing ones are trained first, the one place the book reaches the sweep."""
    store = Store(results)
    rows = declared_records(name, profile, store)
    states = [state for _, state, _ in rows]
    missing = [s for s in states if s in ("missing", "corrupt")]
    if missing and not allow_training:
        corrupt = [config for config, state, _ in rows if state == "corrupt"]
        if corrupt:   # say what is wrong with the first, not merely that it is absent
            try:
                store.load(profile, name, corrupt[0])
            except LrlabError as e:
                raise LrlabError(f"{len(corrupt)} of {len(states)} records of {name!r} at profile {profile!r} are "
                                 f"corrupt ({e}); `lrlab sweep {name} --profile {profile}` redoes them") from None
        raise LrlabError(f"{len(missing)} of {len(states)} runs of {name!r} at profile {profile!r} are "
                         f"missing in {store.root}; run `lrlab sweep {name} --profile {profile}` first")
    if missing:
        from lrlab.sweep import sweep
        sweep(name, profile, results, device, data_root, progress=False, log=lambda m: print(m, file=sys.stderr))
    return store


def _protocol(module):
    """What a chapter's GPU_CHANGES depart from: the paper's protocol, or, for a chapter that reproduces
    no paper, its own (the experiment's PROTOCOL)."""
    return getattr(module, "PROTOCOL", "the paper's protocol")


def _titled(module, parts):
    titles = getattr(module, "PART_TITLES", {})
    return {p: replace(part, title=titles.get(p, "")) for p, part in parts.items()}


class Chapter:
    """One chapter's records, part by part, with what its note and captions say about them."""

    def __init__(self, name, requested, parts, results=None):
        self.name, self.requested, self.part = name, requested, parts
        self.results = results   # the store it was read from (None: the default store)

    # -- the records
    def __getitem__(self, part):
        return list(self._part(part).records)

    def has(self, part):
        return part in self.part and bool(self.part[part].records)

    def profile_of(self, part):
        return self._part(part).profile

    def records(self, *parts):
        """The distinct records of `parts` (all parts when none is named), in declared order."""
        seen, out = set(), []
        for p in parts or self.part:
            for r in self._part(p).records:
                if (r["profile"], r["id"]) not in seen:
                    seen.add((r["profile"], r["id"]))
                    out.append(r)
        return out

    def runs(self, *parts):
        return runs_frame(self.records(*parts))

    def history(self, *parts):
        return history_frame(self.records(*parts))

    def noise_scale(self, *parts):
        return noise_scale_frame(self.records(*parts))

    def devices(self, *parts):
        return ", ".join(sorted({r["env"]["device"] for r in self.records(*parts)})) or "no device"

    # -- what the page says about them
    @property
    def profiles(self):
        """The profiles shown, best first."""
        shown = {p.profile for p in self.part.values() if p.records}
        return [p for p in reversed(PROFILES) if p in shown] or [self.requested if self.requested != "auto" else "quick"]

    @property
    def mixed(self):
        return len(self.profiles) > 1

    @property
    def label(self):
        """The profile(s) in a word: "quick", or "gpu + quick" on a page that mixes them."""
        return " + ".join(self.profiles)

    def _part(self, part):
        if part not in self.part:
            raise LrlabError(f"chapter {self.name!r} has no part {part!r}; it has {', '.join(self.part)}")
        return self.part[part]

    def _parts_at(self, profile, parts=None):
        return [p for p in (parts or self.part) if self.part[p].records and self.part[p].profile == profile]

    def _part_words(self, part):
        p = self.part[part]
        return p.label if p.complete else f"{p.label} ({len(p.records)} of {_runs(p.declared)})"

    def _of_declared(self, profile, parts):
        """"16 of the profile's 40 runs" (or "all 40 runs") for the records of `parts` at `profile`."""
        n, declared = len({r["id"] for p in parts for r in self.part[p].records}), len(experiments.runs(self.name, profile))
        return f"all {_runs(n)}" if n == declared else f"{n} of its {_runs(declared)}"

    def note(self, small_scale=""):
        """The note at the top of the page: which profile each part comes from, on what, and how that
        departs from the paper's protocol; `small_scale` says what the quick profile shrinks."""
        if not self.mixed:
            profile = self.profiles[0]
            return self._single_note(profile, self.devices(), small_scale)
        module = experiments.get(self.name)
        lines = ["This page shows each part from the best profile that has it: "]
        for profile in self.profiles:
            parts = self._parts_at(profile)
            if profile == "quick":
                what = "the rest" if len(parts) > 2 else ", ".join(self._part_words(p) for p in parts)
                count = _runs(len({r["id"] for p in parts for r in self.part[p].records}))
            else:
                what = ", ".join(self._part_words(p) for p in parts)
                count = self._of_declared(profile, parts)
            lines.append(f"**{PROFILE_WORDS[profile]}**, {count} on {self.devices(*parts)}: {what}")
        text = lines[0] + "; ".join(lines[1:]) + "."
        if "gpu" in self.profiles:
            text += (f" The GPU profile changes {_protocol(module)} as follows: "
                     + "; ".join(module.GPU_CHANGES) + ".")
        if "quick" in self.profiles and small_scale:
            text += f" {small_scale}"
        text += (" Every figure's caption names the profile it shows; `lrlab queue` lists the GPU chunks "
                 "still pending.")
        return text

    def _single_note(self, profile, devices, small_scale):
        n_runs = (self._of_declared(profile, list(self.part)) if profile in BETTER_THAN_QUICK
                  else _runs(len(self.records())))
        shown = f"This page shows the **{profile}** profile: {n_runs} on {devices}."
        if profile == "full":
            return shown
        if profile == "gpu":
            module = experiments.get(self.name)
            changes = "; ".join(module.GPU_CHANGES)
            incomplete = [self._part_words(p) for p in self.part if not self.part[p].complete and self.part[p].records]
            pending = f" Parts whose GPU chunks are still pending: {', '.join(incomplete)}." if incomplete else ""
            return f"{shown}{pending} It is sized for short GPU jobs and changes {_protocol(module)} as follows: {changes}."
        recorded, declared = self._gpu_progress()
        pending = ("The GPU-scale runs are pending" if not recorded else
                   f"The GPU-scale runs are not all recorded yet ({recorded} of {declared}; a part shows them once a "
                   "whole chunk of it is in)")
        return (f"{shown} {small_scale} {pending}: `lrlab queue` lists them as chunks and "
                "`bash gpu/job.sh` trains them in short GPU jobs (see *Reproducing a chapter*).").replace("  ", " ")

    def _gpu_progress(self):
        """How many of the chapter's GPU runs are recorded, of how many it declares."""
        declared = experiments.runs(self.name, "gpu")
        return len(_recorded(Store(self.results), self.name, "gpu")), len(declared)

    def source(self, *parts, drawn=None):
        """A caption's last sentence: the profile, runs and device behind a figure of `parts`, and
        that it mixes profiles when it does; `drawn`: how many of the parts' runs the figure draws, where
        it draws only some ("it draws 4 of the 24 runs of the warmups and the batch sweep")."""
        parts = [p for p in (parts or self.part) if self._part(p).records]
        profiles = [p for p in self.profiles if self._parts_at(p, parts)]
        if len(profiles) <= 1:
            profile = profiles[0] if profiles else self.profiles[0]
            partial = [self._part_words(p) for p in parts if not self.part[p].complete]
            n = len(self.records(*parts))
            runs = (_runs(n) if drawn is None or drawn == n else
                    f"it draws {drawn} of the {_runs(n)} of {listed([self.part[p].label for p in parts])},")
            return (f"Profile {profile}: {runs} on {self.devices(*parts)}"
                    + (f"; GPU chunks still pending for {', '.join(partial)}" if partial else "") + ".")
        pieces = [f"{', '.join(self._part_words(p) for p in self._parts_at(profile, parts))} at {profile} "
                  f"({self.devices(*self._parts_at(profile, parts))})" for profile in profiles]
        return "This figure mixes profiles: " + "; ".join(pieces) + "."
