"""The claims scorecard: what the seed articles say about the learning rate, and what our records say.

Each claim is quoted from its article (`ARTICLES`; the texts are in ../shared/seeds/) and names the
verdict that answers it: one of a chapter's `verdicts(chapter)` (the same tested rules the chapter
prints), or a rule of thumb read off several chapters' near-optimal LR bands (`lrlab.near_best`),
or none yet ("untested", with what would test it). `scorecard` opens every chapter at the requested
profile ("auto": each part from the best profile with records), so the page updates itself when GPU
records arrive.
"""
from dataclasses import dataclass, replace

from lrlab import experiments, near_best as thumb
from lrlab.book import scales
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, UNTESTED, WORDS

SCORE_WORDS = WORDS + (UNTESTED,)

ARTICLES = {   # seed file prefix -> (title, source, address or None, short name for the tables)
    "000": ("Learning Rate", "AI Wiki", "https://aiwiki.ai/wiki/learning_rate", "AI Wiki, *Learning Rate*"),
    "001": ("Step size", "AI Wiki", "https://aiwiki.ai/wiki/step_size", "AI Wiki, *Step size*"),
    "003": ("Which Learning Rate Works Best: Deep Dive Into Neural Network Optimization",
            "a blog post (author and site not given)", None, "blog, *Which Learning Rate Works Best*"),
    "004": ("Where is lr", "WhatAnswers, an AI-assisted question-and-answer page", None, "WhatAnswers"),
}


@dataclass(frozen=True)
class Claim:
    key: str        # the fidelity review's row number (section 6), or a name for the ones found since
    article: str    # ARTICLES key
    quote: str      # verbatim; fragments joined by " … " are each verbatim
    topic: str      # the claim in a few words
    where: str      # the MyST label of the section that tests it ("" when untested)
    test: object    # ("chapter", "verdict name"), a rule-of-thumb name, or a str saying what would test it


CLAIMS = (
    Claim("1", "000", "too high a value makes training diverge, while too low a value makes it crawl or stall.",
          "too large diverges, too small crawls", "basics-network", ("basics", "extremes")),
    Claim("2", "001", "the effective step size in the steady state is roughly eta / (1 - mu). At mu = 0.9 the "
          "effective rate is about ten times the nominal eta", "momentum multiplies the step by 1/(1-μ)",
          "basics-network", ("basics", "momentum_step")),
    Claim("3", "001", "Loss collapses to a constant (model predicts one class) … Sometimes too-low eta combined "
          "with bad init", "a loss stuck at a constant means too low a rate", "basics-network", ("basics", "stuck")),
    Claim("4", "000", "one should always make sure that it has been tuned (up to approximately a factor of 2)",
          "tuning to a factor of 2 is enough", "wd-best", "factor_two"),
    Claim("5", "000", "3e-4 for Adam/AdamW on most tasks", "Adam's rate: 3e-4", "wd-best", "adam_3e-4"),
    Claim("5b", "003", "The most common default for Adam is 0.001 (1e-3)", "Adam's rate: 1e-3", "wd-best", "adam_1e-3"),
    Claim("5c", "003", "Adam / AdamW 0.0001 – 0.001", "Adam's best rate lies in 1e-4 to 1e-3", "wd-best", "adam_range"),
    Claim("6", "003", "divide your SGD learning rate by 10 when moving to Adam.", "Adam wants 10x less than SGD",
          "wd-best", "sgd_over_adam"),
    Claim("6b", "003", "SGD with momentum 0.001 – 0.1", "momentum SGD's best rate lies in 0.001 to 0.1", "wd-best",
          "sgd_range"),
    Claim("6c", "000", "Use SGD with momentum of 0.9 and a learning rate of 0.1.", "momentum SGD's rate: 0.1",
          "wd-best", "sgd_0.1"),
    Claim("7", "000", "selected from the region where the loss is decreasing most steeply",
          "range test: take the steepest descent", "sc-peaks", ("super_convergence", "rule_steepest")),
    Claim("7b", "000", "usually about one order of magnitude below the learning rate at which the loss is minimized",
          "range test: take the minimum's rate / 10", "sc-peaks", ("super_convergence", "rule_min_over_10")),
    Claim("8", "000", "The one-cycle policy enables training with learning rates 10x to 20x larger than "
          "conventional schedules", "one cycle trains at 10-20x a constant rate", "sc-above-constant",
          ("super_convergence", "peak_ratio")),
    Claim("9", "000", "Smith reported that ResNet-56 could be trained on CIFAR-10 in roughly 10 percent of the "
          "usual number of iterations", "one cycle needs about 10% of the iterations", "sc-budget",
          ("super_convergence", "budget")),
    Claim("10", "000", "Simultaneously, momentum follows an inverse schedule, decreasing when the learning rate "
          "rises and increasing when it falls.", "cyclical momentum helps the one cycle", "sc-modern",
          ("super_convergence", "cyclical_momentum")),
    Claim("26", "004", "Learning rate schedules can improve accuracy by 2-5%", "a schedule gains 2-5 points",
          "sc-peaks", ("super_convergence", "schedule_gain")),
    Claim("11", "000", "scaling the base learning rate from 0.1 (at batch size 256) to 3.2 (at batch size 8,192)",
          "linear scaling of the rate with the batch", "ls-batch", ("linear_scaling", "linear_rule")),
    Claim("12", "000", "At very large batch sizes (beyond roughly 8,000 to 16,000 for ImageNet), simply scaling the "
          "learning rate linearly causes instability", "linear scaling breaks at very large batches", "ls-batch",
          ("linear_scaling", "rule_breaks")),
    Claim("13", "001", "The rule requires gradual warmup; without it, the large-batch run diverges in the first few "
          "iterations.", "without warmup a large batch diverges", "ls-warmup", ("linear_scaling", "warmup_divergence")),
    Claim("14", "000", "a square root scaling rule, where the learning rate scales by √k rather than k, which can be "
          "more stable at extreme batch sizes.", "the square-root rule is more stable", "ls-rules",
          ("linear_scaling", "sqrt_stable")),
    Claim("15", "001", "The noise scale grows as a model trains, so the optimal batch size grows too.",
          "the gradient noise scale grows in training", "ls-noise", ("linear_scaling", "noise_grows")),
    Claim("17", "000", "With AdamW, the two hyperparameters can be tuned more independently",
          "decoupled decay separates LR and decay", "wd-slopes", ("weight_decay", "coupling")),
    Claim("18", "000", "This decoupled approach produces better generalization", "AdamW generalises better than Adam",
          "wd-best", ("weight_decay", "adamw_better")),
    Claim("20", "000", "the optimal learning rate changes with model size.", "SP's best rate moves with width, muP's "
          "stays (MLP)", "width-mlp", ("lr_vs_width", "mlp_shift")),
    Claim("20b", "000", "so that the optimal hyperparameters (including the learning rate) remain stable across "
          "different model widths.", "SP's best rate moves with width, muP's stays (GPT)", "width-gpt",
          ("lr_vs_width", "gpt_shift")),
    Claim("21", "000", "as models get larger, the peak learning rate decreases.", "larger models want a smaller rate",
          "width-gpt", ("lr_vs_width", "smaller_when_larger")),
    Claim("22", "001", "Empirically, peak eta tracks 1 / sqrt(model_width) reasonably well.",
          "the best rate goes as 1/sqrt(width)", "width-gpt", ("lr_vs_width", "inverse_sqrt_width")),
    Claim("16", "001", "Doubling either eta or batch_size has the same effect on the implicit noise. This is why "
          "\"don't decay the learning rate, increase the batch size\" can be a viable schedule",
          "only η/B matters: grow the batch instead of decaying the rate", "rt-batch",
          ("rules_of_thumb", "batch_instead_of_decay")),
    Claim("19", "000", "A common default configuration for AdamW in transformer training is a learning rate in the "
          "range 1e-4 to 1e-3 paired with a weight decay of 0.1.", "AdamW for transformers: 1e-4 to 1e-3, decay 0.1",
          "rt-adamw", ("rules_of_thumb", "adamw_default")),
    Claim("23", "000", "certain hyperparameters like weight decay and dropout rates do not transfer under muP",
          "weight decay and dropout do not muTransfer", "width-decay", ("lr_vs_width", "decay_transfer")),
    Claim("24", "001", "Cosine usually beats step decay.", "cosine beats step decay", "rt-schedules",
          ("rules_of_thumb", "cosine_beats_step")),
    Claim("25", "003", "Include warmup—at least 5-10% of total training as warmup steps.",
          "transformers need 5-10% warmup", "rt-warmup", ("rules_of_thumb", "warmup_needed")),
    Claim("27", "000", "assign each group a learning rate that is a fraction (e.g., 1/2.6) of the rate used for the "
          "group above it.", "layer-wise rates (ULMFiT's 2.6)", "rt-layerwise", ("rules_of_thumb", "layerwise_rates")),
    Claim("28", "001", "Lion needs a learning rate three to ten times smaller than AdamW",
          "Lion wants 3-10x less than AdamW", "rt-lion", ("rules_of_thumb", "lion_rate")),
    Claim("e1", "001", "varying the step size by a factor of two often changes final accuracy more than swapping "
          "architectures or doubling the model size.", "a factor 2 in rate matters more than 2x width", "width-mlp",
          ("lr_vs_width", "factor_two_vs_width")),
    Claim("e2", "003", "A learning rate of 0.1 might work perfectly with SGD but will cause immediate divergence with "
          "Adam.", "Adam diverges at 0.1", "rt-warmup", ("rules_of_thumb", "adam_diverges_at_0.1")),
    Claim("e3", "001", "With deep networks the result is typically NaN values within a few hundred",
          "too large a rate gives NaN within a few hundred steps", "basics-network", ("basics", "fast_divergence")),
    Claim("e4", "001", "Gradient clipping (typically clip_grad_norm to 1.0) often saves runs that the scheduled step "
          "size alone would not.", "clipping at 1.0 rescues runs", "rt-clipping",
          ("rules_of_thumb", "clipping_saves_runs")),
)

CHAPTER_WORDS = {"basics": "Ch. 1", "super_convergence": "Ch. 2", "linear_scaling": "Ch. 3",
                 "weight_decay": "Ch. 4", "lr_vs_width": "Ch. 5", "rules_of_thumb": "Ch. 6"}


def _adam(bands):
    return [b for k, b in bands.items() if k in ("wd_adam", "gpt_sp_widest")]


def _sgd(bands):
    return [bands["wd_sgd"]] if "wd_sgd" in bands else []


def _pair(bands):
    return [bands[k] for k in ("wd_sgd", "wd_adam") if k in bands]


RULES_OF_THUMB = {   # name -> (the bands it reads, the verdict on them)
    "factor_two": (lambda bands: [b for k, b in bands.items() if k.startswith(("wd_", "width_"))],
                   thumb.factor_two_verdict),
    "adam_3e-4": (_adam, lambda b: thumb.rate_verdict(b, 3e-4, "Adam at 3e-4")),
    "adam_1e-3": (_adam, lambda b: thumb.rate_verdict(b, 1e-3, "Adam at 1e-3")),
    "adam_range": (_adam, lambda b: thumb.range_verdict(b, 1e-4, 1e-3, "Adam's best rate")),
    "sgd_range": (_sgd, lambda b: thumb.range_verdict(b, 1e-3, 0.1, "Momentum SGD's best rate")),
    "sgd_0.1": (_sgd, lambda b: thumb.rate_verdict(b, 0.1, "Momentum SGD at 0.1")),
    "sgd_over_adam": (_pair, lambda b: thumb.ratio_verdict(b[0], b[1], 10.0, "SGD's best rate over Adam's, against 10")
                      if len(b) == 2 else None),
}


def rule_of_thumb(name, bands):
    """The verdict of a claim read off several chapters' bands (`bands`: name -> Band), marked with
    their profiles; None where the bands it needs are missing."""
    pick, rule = RULES_OF_THUMB[name]
    used = pick(bands)
    verdict = rule(used) if used else None
    return verdict and replace(verdict, profile=" + ".join(dict.fromkeys(b.profile for b in used)))


def _bands(chapters):
    """name -> Band: ch. 4's undecayed SGD and Adam, every curve of ch. 5, and ch. 5's widest SP GPT."""
    out = {f"wd_{k}": b for k, b in experiments.get("weight_decay").bands(chapters["weight_decay"]).items()}
    width = experiments.get("lr_vs_width").bands(chapters["lr_vs_width"])
    out.update({f"width_{part}_{p}_{w}": b for (part, p, w), b in width.items()})
    gpt_sp = [k for k in width if k[:2] == ("gpt", "sp")]
    if gpt_sp:
        out["gpt_sp_widest"] = width[max(gpt_sp, key=lambda k: k[2])]
    return out


def scorecard(results=None, profile="auto", allow_training=False, book=None):
    """One row per claim: key, article, quote, topic, section (its label), word, text, number, profile, rule,
    tested_by, and for a claim read beyond quick, the same rule at quick: quick_word, quick_number, and
    scales (what each scale shows, where the two words differ; "" elsewhere). `book`: a
    `scales.read_book` already made (a page that also draws the headline table reads the chapters once)."""
    import pandas as pd
    book = book or scales.read_book(results, profile, allow_training)
    chapters, verdicts, at_quick, quick_verdicts = book.chapters, book.verdicts, book.quick_chapters, book.quick_verdicts
    bands = _bands(chapters)
    # a chapter shown at quick alone is its own quick reading
    quick_bands = _bands({name: at_quick[name] or ch for name, ch in chapters.items()})
    rows = []
    for c in CLAIMS:
        if isinstance(c.test, tuple):
            v, tested_by = verdicts[c.test[0]].get(c.test[1]), CHAPTER_WORDS[c.test[0]]
            q = quick_verdicts[c.test[0]].get(c.test[1])
        elif c.test in RULES_OF_THUMB:
            v, q = rule_of_thumb(c.test, bands), rule_of_thumb(c.test, quick_bands)
            tested_by = "Ch. 4, 5"
        else:
            v, q, tested_by = None, None, c.test
        pair = scales.readings({c.key: v}, {c.key: q}).get(c.key) if v and q else None
        rows.append(dict(key=c.key, article=c.article, quote=c.quote, topic=c.topic, section=c.where,
                         word=v.word if v else UNTESTED, text=v.text if v else "", number=v.number if v else "",
                         profile=v.profile if v else "", rule=v.rule if v else "", tested_by=tested_by,
                         quick_word=pair.quick.word if pair else "", quick_number=pair.quick.number if pair else "",
                         scales=scales.scale_sentence(c.topic, pair) if pair and not pair.agree else ""))
    return pd.DataFrame(rows)


def counts(card):
    """Verdict word -> number of claims, every word present (0 where none)."""
    return {w: int((card.word == w).sum()) for w in SCORE_WORDS}


def by_chapter(card):
    """The scorecard tallied by where each claim is tested: one row per chapter (in book order), one
    for the untested claims; a column per verdict word."""
    import pandas as pd
    where = card.tested_by.where(card.word != UNTESTED, UNTESTED)
    order = [w for w in dict.fromkeys(sorted(where[where != UNTESTED]))] + [UNTESTED] * (UNTESTED in set(where))
    tally = pd.crosstab(where, card.word).reindex(index=order, columns=list(SCORE_WORDS), fill_value=0)
    return tally.rename_axis(index="tested in", columns=None)


CHAPTER_LABELS = {"Ch. 1": "ch-basics", "Ch. 2": "ch-super-convergence", "Ch. 3": "ch-linear-scaling",
                  "Ch. 4": "ch-weight-decay", "Ch. 5": "ch-width", "Ch. 6": "ch-rules-of-thumb"}


def by_chapter_markdown(tally):
    """`by_chapter` as a MyST table whose chapters link to their pages."""
    def where(name):
        if name == UNTESTED:
            return "{ref}`untested <claims-untested>`"
        numbers = name.removeprefix("Ch. ").split(", ")
        if len(numbers) == 1:
            return f"{name}: {{ref}}`{CHAPTER_LABELS[name]}`"   # the chapter's title, linked
        return "the near-best bands of Ch. " + " and ".join(
            f"{{ref}}`{n} <{CHAPTER_LABELS['Ch. ' + n]}>`" for n in numbers)
    head = "| tested in | " + " | ".join(tally.columns) + " |\n|---|" + "---:|" * len(tally.columns)
    rows = [f"| {where(name)} | " + " | ".join(str(int(n)) if n else "" for n in row) + " |"
            for name, row in tally.iterrows()]
    return "\n".join([head] + rows)


GROUPS = (   # the page's tables: heading, the claims' tested_by
    ("Basics (Ch. 1)", ("Ch. 1",)),
    ("The range test and the one cycle (Ch. 2)", ("Ch. 2",)),
    ("Batch size and warmup (Ch. 3)", ("Ch. 3",)),
    ("Weight decay (Ch. 4)", ("Ch. 4",)),
    ("Width (Ch. 5)", ("Ch. 5",)),
    ("Schedules, warmup and batch growth (Ch. 6)", ("Ch. 6",)),
    ("Default rates, read off the sweeps of Ch. 4 and 5", ("Ch. 4, 5",)),
)


_cell = scales.table_cell


def _claim_words(row):
    return f"**{_cell(row.topic[0].upper() + row.topic[1:])}.** “{_cell(row.quote)}” ({ARTICLES[row.article][3]})"


def _where(row):
    return f"{{ref}}`{row.tested_by} <{row.section}>`" if row.section else _cell(row.tested_by)


def table_markdown(card, tested_by):
    """A MyST table of the claims tested in `tested_by` (a tuple of the card's tested_by values)."""
    rows = card[card.tested_by.isin(tested_by)]
    lines = ["| # | The claim | Verdict | What we measured (profile) | Where |", "|---|---|---|---|---|"]
    lines += [f"| {r.key} | {_claim_words(r)} | **{r.word}** | {scales.measured_cell(r)} | {_where(r)} |"
              for r in rows.itertuples()]
    return "\n".join(lines)


def untested_markdown(card):
    rows = card[card.word == UNTESTED]
    if not len(rows):
        return f"None: each of the {len(card)} claims is tested."
    lines = ["| # | The claim | What would test it |", "|---|---|---|"]
    lines += [f"| {r.key} | {_claim_words(r)} | {_cell(r.tested_by)} |" for r in rows.itertuples()]
    return "\n".join(lines)


def details_markdown(card):
    """Each tested claim's verdict sentence and rule, as a list."""
    rows = card[card.word != UNTESTED]
    return "\n".join(f"- **{r.key}** ({r.topic}): {r.text} *Rule: {r.rule}.*" for r in rows.itertuples())


def sources_markdown():
    """The articles, as a list: title, source, address."""
    return "\n".join(f"- *{title}*, {source}" + (f": <{url}>" if url else "")
                     for title, source, url, _ in ARTICLES.values())


def counts_words(card):
    n = counts(card)
    untested = f", **{n['untested']} untested**" if n["untested"] else ", all tested"
    return (f"{len(card)} claims: **{n['confirmed']} confirmed**, **{n['contradicted']} contradicted**, "
            f"**{n['not resolved']} not resolved** at the scale of our records{untested}.")


def takeaway_markdown(name, verdicts, at_quick=None):
    """A chapter's takeaway: the articles' claims it answers, grouped by verdict word, in two or three
    lines (`verdicts`: the chapter module's `verdicts(chapter)`), and, where some were read beyond quick,
    what the quick runs say of them (`at_quick`: `scales.quick_verdicts(chapter)`)."""
    said = {w: [] for w in WORDS}
    profiles, claim_topics = [], {}
    for c in CLAIMS:
        if isinstance(c.test, tuple) and c.test[0] == name and c.test[1] in verdicts:
            v = verdicts[c.test[1]]
            said[v.word].append(c.topic)
            profiles.append(v.profile)
            claim_topics[c.test[1]] = c.topic
    heads = {CONFIRMED: "Confirmed", CONTRADICTED: "Contradicted", NOT_RESOLVED: "Not resolved at this scale"}
    lines = [f"**{heads[w]}**: {'; '.join(topics)}." for w, topics in said.items() if topics]
    shown = list(dict.fromkeys(q for p in profiles if p for q in p.split(" + ")))   # a verdict may read two
    pending = (" Its GPU runs are not all recorded yet: they are what can resolve the rest." if said[NOT_RESOLVED]
               and "quick" in shown else "")
    scale = scales.takeaway_line(claim_topics, scales.readings({k: verdicts[k] for k in claim_topics},
                                                               at_quick or {}))
    return ("\n".join(f"- {line}" for line in lines) + f"\n\nThe articles' claims this chapter answers, read from "
            f"the {' + '.join(shown) or 'no'} records ({{ref}}`the scorecard <ch-claims>` gives each verdict's "
            f"numbers and rule).{pending}" + (f"\n\n{scale}" if scale else ""))
