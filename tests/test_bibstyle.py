"""The references' author-year labels (lrlab.book.bibstyle)."""
from pybtex.database import Entry, Person

from lrlab.book.bibstyle import AuthorYearLabels, author_year


def _entry(year, *authors):
    return Entry("article", fields={"year": year, "title": "t"}, persons={"author": [Person(a) for a in authors]})


def test_one_two_and_many_authors_with_latex_accents_spelled_out():
    assert author_year(_entry("2004", "Nesterov, Yurii")) == "Nesterov, 2004"
    assert author_year(_entry("2019", "Loshchilov, Ilya", "Hutter, Frank")) == "Loshchilov and Hutter, 2019"
    assert author_year(_entry("2024", "H{\\\"a}gele, Alexander", "Bakouch, Elie", "Kosson, Atli")) == "Hägele et al., 2024"
    assert author_year(_entry("2020", "Brown, Tom B.", "others")) == "Brown et al., 2020"


def test_the_same_authors_twice_in_a_year_get_letters():
    entries = [_entry("2017", "Smith, Leslie N."), _entry("2017", "Smith, Leslie N."), _entry("2018", "Smith, Leslie N.")]
    assert list(AuthorYearLabels().format_labels(entries)) == ["Smith, 2017a", "Smith, 2017b", "Smith, 2018"]
