"""The book's figures, one module per chapter: each function takes what the chapter's analysis
computed (frames, numbers) and returns a matplotlib figure, which the page lays out and glues
(`lrlab.book.page.glue_figure`). Nothing here reads records or decides a verdict."""
