"""The book layer: what every chapter page needs, written once. It reads records, never trains
(except through `ensure_runs` when a page is executed with `allow_training`).

- `chapter`: open a chapter's records part by part (`open_chapter`), with its profile note and captions.
- `page`: glue values, tables and figures for the prose, in one style.
The statistics the chapters share (refined optimum, mean and spread over seeds, the noise band) are
in `lrlab.stats`, below the experiments, whose analysis uses them too.
"""
from lrlab.book.chapter import Chapter, Part, ensure_runs, open_chapter

__all__ = ["Chapter", "Part", "ensure_runs", "open_chapter"]
