"""The references' labels, "Goyal et al., 2017" instead of pybtex's alpha labels ("GDollarG+17": the
alpha style spells the LaTeX of "Doll{\\'a}r"). Registered as the pybtex style `lrlab` by
lrlab.book.sphinx_ext; `_config.yml` sets `bibtex_default_style: lrlab`. DOI and arXiv links come from
the entries' `doi` and `eprint` fields (pybtex's unsrt style renders both as links)."""
from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person):
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry):
    """'Nesterov, 2004', 'Loshchilov and Hutter, 2019', 'Goyal et al., 2017'."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if names[1:] and names[-1] == "others":   # BibTeX's "and others"
        names += ["", ""]
    who = (names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2
           else f"{names[0]} et al." if names else entry.fields.get("title", "Anonymous"))
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year(e) for e in sorted_entries]
        seen = Counter()
        for label in labels:   # the same authors twice in a year: 2017a, 2017b
            if labels.count(label) > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class Style(UnsrtStyle):
    default_label_style = "lrlab_author_year"
    default_sorting_style = "author_year_title"


def register():
    register_plugin("pybtex.style.labels", "lrlab_author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "lrlab", Style)
