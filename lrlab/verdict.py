"""The book's verdict words: one vocabulary for every chapter's rules and the claims scorecard.

A verdict is what a tested rule says about one of a paper's claims, measured against seed noise:
the word, the sentence a page prints, and the rule itself in words (so a reader can check it).
"""
from dataclasses import dataclass, replace

from lrlab.errors import check_choice

CONFIRMED, CONTRADICTED, NOT_RESOLVED = "confirmed", "contradicted", "not resolved"
WORDS = (CONFIRMED, CONTRADICTED, NOT_RESOLVED)
UNTESTED = "untested"   # the scorecard's word for a claim no run of ours measures yet; no rule gives it
NO_RULE = "—"   # a row of a "paper beside ours" table that no tested rule reads (a number shown for reference)


@dataclass(frozen=True)
class Verdict:
    word: str    # one of WORDS
    text: str    # the sentence the chapter prints
    rule: str    # the rule that gave the word, in words
    number: str = ""    # what was measured, in a few words ("11.3x", "-5.22 points, margin 1.26")
    profile: str = ""   # the profile(s) of the records it read, set by the chapter's `verdicts`

    def __post_init__(self):
        check_choice("verdict", self.word, WORDS)

    def __str__(self):
        return self.text


@dataclass(frozen=True)
class PaperClaim:
    """A chapter's headline claim from the literature, set beside ours in the book's headline table: the
    verdict (by its name in the chapter's `verdicts`) that reads it, the claim in words, the source's
    number and where it is printed."""
    verdict: str
    claim: str
    paper: str
    source: str


def at_profile(verdicts, profile):
    """The verdicts (a dict) marked with the profile whose records gave them."""
    return {name: replace(v, profile=profile) for name, v in verdicts.items()}
