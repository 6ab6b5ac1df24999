"""The papers beside ours: one row per headline claim of the literature a chapter reproduces (each
experiment's `HEADLINES`), with the source's number, ours from the best profile that has it (with
its seed spread where it has one), the verdict of the chapter's tested rule, and, where ours comes
from GPU records, what the quick (CPU) runs say by the same rule (`lrlab.book.scales`). A chapter's
own table of its sources beside ours (`beside_sources`) is built the same way.
"""
from lrlab import experiments
from lrlab.book import scales
from lrlab.book.claims import CHAPTER_LABELS, CHAPTER_WORDS

_cell = scales.table_cell

NBSP = "\u00a0"   # "Ch. 1" on one line in a narrow column
PENDING = "pending: its GPU runs are not all recorded yet (`lrlab queue`)"


def table(results=None, profile="auto", allow_training=False, book=None):
    """One row per headline: chapter, claim, paper, source, word, number, profile, quick_word, quick_number.
    `book`: a `scales.read_book` already made (the intro page's, shared with its scorecard)."""
    import pandas as pd
    book = book or scales.read_book(results, profile, allow_training)
    rows = []
    for name in experiments.EXPERIMENTS:
        shown = book.verdicts[name]
        pairs = scales.readings(shown, book.quick_verdicts[name])
        for h in experiments.get(name).HEADLINES:
            v, pair = shown.get(h.verdict), pairs.get(h.verdict)
            rows.append(dict(chapter=CHAPTER_WORDS[name], claim=h.claim, paper=h.paper, source=h.source,
                             word=v.word if v else "", number=v.number if v else PENDING,
                             profile=v.profile if v else "", quick_word=pair.quick.word if pair else "",
                             quick_number=pair.quick.number if pair else ""))
    return pd.DataFrame(rows)


def beside_sources(verdicts, sources, at_quick=None):
    """A chapter's "sources beside ours" table: one row per claim of `sources` (verdict name -> (the
    claim, whose, their evidence)) that `verdicts` reads, with our number, its profile and the verdict;
    where a verdict is read beyond quick and `at_quick` (`scales.quick_verdicts`) reads it too, a column
    says whether the quick runs agree, or gives their word and number."""
    import pandas as pd
    pairs = scales.readings(verdicts, at_quick or {})
    rows = []
    for name, (claim, who, theirs) in sources.items():
        if name not in verdicts:
            continue
        v, pair = verdicts[name], pairs.get(name)
        row = {"claim": claim, "source": who, "their evidence": theirs, "ours": v.number, "profile": v.profile,
               "verdict": v.word}
        if pairs:
            row[scales.QUICK_COLUMN] = "" if pair is None else scales.quick_cell(v.word, pair.quick.word, pair.quick.number)
        rows.append(row)
    return pd.DataFrame(rows)


def _capital(text):
    return text[:1].upper() + text[1:]


def _ours(row):
    return scales.measured_cell(row) if row.word else f"*{PENDING}*"


def markdown(frame):
    """The table as MyST: each chapter linked, the paper's number with its source, ours with its profile."""
    lines = ["| | The claim | The paper | Ours (profile) | Verdict |", "|---|---|---|---|---|"]
    lines += [f"| {{ref}}`{r.chapter.replace(' ', NBSP)} <{CHAPTER_LABELS[r.chapter]}>` | {_cell(_capital(r.claim))} | "
              f"{_cell(r.paper)} — "
              f"{_cell(r.source)} | {_ours(r)} | {f'**{r.word}**' if r.word else '—'} |"
              for r in frame.itertuples()]
    return "\n".join(lines)
