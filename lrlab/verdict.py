"""The book's verdict words: one vocabulary for every chapter's rules and the claims scorecard.

A verdict is what a tested rule says about one of a paper's claims, measured against seed noise:
the word, the sentence a page prints, and the rule itself in words (so a reader can check it).
"""
from dataclasses import dataclass

from lrlab.errors import check_choice

CONFIRMED, CONTRADICTED, NOT_RESOLVED = "confirmed", "contradicted", "not resolved"
WORDS = (CONFIRMED, CONTRADICTED, NOT_RESOLVED)


@dataclass(frozen=True)
class Verdict:
    word: str    # one of WORDS
    text: str    # the sentence the chapter prints
    rule: str    # the rule that gave the word, in words

    def __post_init__(self):
        check_choice("verdict", self.word, WORDS)

    def __str__(self):
        return self.text
