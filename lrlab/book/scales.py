"""Which scale shows what: a verdict read from GPU (or full) records, set beside the same rule read
from the chapter's quick (CPU) records.

A page scores each claim at the best profile that has its records. When the GPU runs and the quick
runs give a claim different words, the page must say so: the quick runs are what a reader's laptop
rerun shows, the GPU runs are nearer the paper's protocol. `quick_verdicts` reads a chapter's rules
at quick, `readings` pairs them with the verdicts shown, `scale_sentence` says what each scale
shows, and `takeaway_line` / `scorecard_markdown` put that on a chapter's and the scorecard's page.
"""
from dataclasses import dataclass

from lrlab import experiments
from lrlab.book.chapter import BETTER_THAN_QUICK, PROFILE_WORDS, open_chapter
from lrlab.errors import LrlabError
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, WORDS

QUICK = "quick"
VERBS = {CONFIRMED: "confirm", CONTRADICTED: "contradict"}


def shows_beyond_quick(profile):
    """Whether a verdict's profile ("gpu", "gpu + quick", ...) reads any records of a larger scale than
    quick (gpu or full; smoke is smaller)."""
    return any(p in BETTER_THAN_QUICK for p in profile.split(" + "))


def quick_chapter(chapter):
    """The same chapter opened at quick, where the page shows anything beyond quick and its quick
    records are all there; else None (nothing to set beside)."""
    if not shows_beyond_quick(chapter.label):
        return None
    try:
        return open_chapter(chapter.name, QUICK, chapter.results)
    except LrlabError:   # missing or corrupt quick records: `lrlab status` names them
        return None


def quick_verdicts(chapter):
    """The chapter's verdicts read from its quick records alone ({} where there are none to read)."""
    quick = quick_chapter(chapter)
    return experiments.get(chapter.name).verdicts(quick) if quick else {}


@dataclass(frozen=True)
class BookReading:
    """Every chapter read once, at the scale shown and at quick: what the scorecard and the headline
    table both need (name -> Chapter, name -> its verdicts, and the same at quick: a Chapter or None, {})."""
    chapters: dict
    verdicts: dict
    quick_chapters: dict
    quick_verdicts: dict


def read_book(results=None, profile="auto", allow_training=False):
    """Open every chapter at `profile` and at quick, and read each one's verdicts at both."""
    chapters = {name: open_chapter(name, profile, results, allow_training=allow_training)
                for name in experiments.EXPERIMENTS}
    quick = {name: quick_chapter(ch) for name, ch in chapters.items()}
    return BookReading(chapters, {name: experiments.get(name).verdicts(ch) for name, ch in chapters.items()}, quick,
                       {name: experiments.get(name).verdicts(q) if q else {} for name, q in quick.items()})


@dataclass(frozen=True)
class Reading:
    """One claim's verdict at the scale shown and at quick."""
    name: str
    shown: object    # the Verdict the page scores (its profile reads records beyond quick)
    quick: object    # the same rule's Verdict from the quick records

    @property
    def agree(self):
        return self.shown.word == self.quick.word


def readings(shown, at_quick):
    """name -> Reading for each verdict of `shown` read beyond quick that `at_quick` also has."""
    return {name: Reading(name, v, at_quick[name]) for name, v in shown.items()
            if shows_beyond_quick(v.profile) and name in at_quick and not shows_beyond_quick(at_quick[name].profile)}


def profile_words(profile):
    """"gpu + quick" -> "GPU + quick (CPU)": how a sentence names the records a verdict read."""
    return " + ".join(PROFILE_WORDS.get(p, p) for p in profile.split(" + "))


def scale_sentence(topic, reading):
    """What each scale shows of one claim whose verdicts differ, in a sentence."""
    shown, quick = reading.shown, reading.quick
    at = f"the {profile_words(shown.profile)} runs"
    if NOT_RESOLVED not in (shown.word, quick.word):   # one scale confirms, the other contradicts
        return (f"*{topic}*: {at} {VERBS[shown.word]} it ({shown.number}), the quick (CPU) runs "
                f"{VERBS[quick.word]} it ({quick.number}). The claim depends on the scale; the page scores "
                f"the larger one, nearer the paper's protocol.")
    if quick.word == NOT_RESOLVED:
        return (f"*{topic}*: the quick (CPU) runs could not resolve it ({quick.number}); {at} "
                f"{VERBS[shown.word]} it ({shown.number}).")
    return (f"*{topic}*: the quick (CPU) runs {VERBS[quick.word]} it ({quick.number}); {at} do not resolve "
            f"it ({shown.number}), so at the larger scale it stays open.")


def takeaway_line(topics, pairs):
    """The takeaway's line on scale (`pairs`: name -> Reading; `topics`: name -> the claim in a few
    words): what each scale shows where the words differ, or that they agree; "" where nothing was read
    beyond quick."""
    if not pairs:
        return ""
    differ = [r for r in pairs.values() if not r.agree]
    if not differ:
        n = len(pairs)
        return (f"**Both scales agree**: the quick (CPU) runs give the same verdict as the "
                f"{_beyond_words(r.shown.profile for r in pairs.values())} runs on "
                + ("the claim" if n == 1 else f"all {n} claims") + " read at both.")
    return "**Which scale shows what**: " + " ".join(scale_sentence(topics[r.name], r) for r in differ)


QUICK_COLUMN = "the quick (CPU) runs"


def quick_cell(shown_word, quick_word, quick_ours):
    """What a table's quick column says of one row read at both scales: "agree" where the same rule gives
    the same word, else the quick word and number (the number alone on a row no rule reads)."""
    if quick_word == shown_word and quick_word in WORDS:
        return "agree"
    return f"{quick_word} ({quick_ours})" if quick_word in WORDS else str(quick_ours)


def beside_quick(table, quick_table, key, ours="ours", verdict="verdict"):
    """A chapter's "paper beside ours" table with a column for what the same table says at quick, row
    by row (matched on column `key`). A row the quick table lacks gets nothing, and so does one whose
    number is the quick table's: it already reads the quick records (a part not yet run beyond quick).
    `table` is unchanged where `quick_table` is None or no row has anything to set beside."""
    if quick_table is None:
        return table
    quick = quick_table.drop_duplicates(key).set_index(key)

    def cell(row):
        if row[key] not in quick.index or quick.at[row[key], ours] == row[ours]:
            return ""
        return quick_cell(row[verdict], quick.at[row[key], verdict], quick.at[row[key], ours])
    cells = [cell(r) for _, r in table.iterrows()]
    return table.assign(**{QUICK_COLUMN: cells}) if any(cells) else table


def quick_column_note(table):
    """The sentence under a table that has the quick column ("" under one that does not)."""
    if QUICK_COLUMN not in table.columns:
        return ""
    return (f"*The last column, {QUICK_COLUMN}, reads the same rule from this chapter's quick (CPU) records: "
            "\"agree\" where it gives the same verdict, else its verdict and number (the number alone on a row no "
            "rule reads); a row already read from the quick records has nothing there ({ref}`claims-scales`).*")


def versus_beside_quick(chapter, versus_of, key="claim", ours="ours"):
    """`versus_of(chapter)` (a chapter's "paper beside ours" table, built from a Chapter), and where the
    page reads records beyond quick, the same table built from the quick records beside it."""
    quick = quick_chapter(chapter)
    return beside_quick(versus_of(chapter), versus_of(quick) if quick else None, key, ours)


def table_cell(text):
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def measured_cell(row):
    """A table's measurement (`row`: number, profile, word, quick_word, quick_number): the number and its
    profile, and for a verdict read beyond quick, whether the quick runs agree, or their word and number."""
    shown = f"{table_cell(row.number)} ({row.profile}"
    if not row.quick_word:
        return shown + ")"
    if row.quick_word == row.word:
        return shown + "; quick agrees)"
    return shown + f"); at quick: **{row.quick_word}**, {table_cell(row.quick_number)}"


def _beyond_words(profiles):
    """The profiles beyond quick among verdicts' profiles, in words: "GPU", "full (paper scale) or GPU"."""
    beyond = {q for p in profiles for q in p.split(" + ") if q in BETTER_THAN_QUICK}
    return " or ".join(PROFILE_WORDS.get(p, p) for p in sorted(beyond))


def scorecard_markdown(card):
    """The scorecard page's section on scale: every claim read beyond quick, whether the quick runs
    agree, and what each scale shows where they do not (`card`: claims.scorecard)."""
    beyond = card[card.profile.map(shows_beyond_quick)]
    if not len(beyond):
        return ("Every verdict on this page comes from the quick (CPU) records: no claim is read at GPU "
                "scale yet.")
    compared = beyond[beyond.quick_word != ""]
    differ = compared[compared.quick_word != compared.word]
    n, m = len(beyond), len(compared)
    head = (f"{n} claim{'s are' if n != 1 else ' is'} read from {_beyond_words(beyond.profile)} records"
            + (f" ({n - m} without a quick reading to set beside)" if m < n else "") + ". ")
    if not len(differ):
        return head + (f"The quick (CPU) runs give the same verdict on {'all ' if m > 1 else ''}{m} of them."
                       if m else "")
    lines = [head + f"The quick (CPU) runs give the same verdict on {m - len(differ)} of {m}; on the others "
             "the scale decides:", ""]
    lines += [f"- **{r.key}** {r.scales}" for r in differ.itertuples()]
    return "\n".join(lines)
