"""Recognising a conditional threat about feedback in message text.

Feedback extortion has a structure, whatever the wording: a **condition**
(``if``, ``unless``, ``otherwise``, ``or else``, ``until``, a ``no X, no Y``
or an imperative demand followed by a consequence), a **feedback target**
(feedback, review, rating, stars, DSR, ...), a **negative consequence**
(negative, bad, 1 star, low, withholding a good rating, or the promise to
change a bad one) and a **demand** for something a listing does not include
(an extra item, a free gift, a partial refund, money, a discount,
compensation, sending another one).

Each of the four is a *cue family*: several patterns, each with a strength
in 0..1, matched with polars regular expressions over the whole messages
column at once (no Python loop over messages). The text is normalised first
(:func:`normalize_for_cues`: Unicode NFKD, diacritics, case, markup,
apostrophes, leetspeak inside words, ``=``/``->`` as "then", punctuation), so
word order, filler words, accents and spelling games do not matter. The
vocabulary covers English plus common Spanish, French, German, Portuguese and
Italian words. A message is a threat when all four families are present,
their mean strength reaches ``min_score`` and at most ``max_weak_cues`` of
them rest on a weak cue; a negative word that is itself
negated ("I won't leave negative feedback") does not count.

The output names the cues that fired and the words that fired them, so an
investigator can see *why* a message was flagged. The matched words come from
the normalised text (letters, digits and spaces only): safe to display.

Examples
--------
>>> import polars as pl
>>> from graphkit.detect.threats import threat_scores
>>> msgs = pl.DataFrame({"message_id": ["m1", "m2"], "text": [
...     "Send me a free phone case, otherwise I leave 1-star feedback!",
...     "Item arrived broken. I will leave honest feedback."]})
>>> threat_scores(msgs)["is_threat"].to_list()
[True, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from graphkit.detect.text import CONFUSABLES

__all__ = [
    "CUE_FAMILIES",
    "THREAT_SCHEMA",
    "Cue",
    "normalize_for_cues",
    "threat_scores",
]


@dataclass(frozen=True)
class Cue:
    """One pattern of a cue family: a regex over normalised text and its strength."""

    pattern: str
    weight: float


def _words(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


#: strongly negative rating words, multilingual (after NFKD + diacritics removal)
_STRONG_NEGATIVE = (
    "negative",
    "negativ[aeo]?s?",
    "negatif",
    "neg",
    "[01] stars?",
    "one stars?",
    "zero stars?",
    "lowest",
    "worst",
    "terrible",
    "horrible",
    "malas?",
    "malos?",
    "mauvaise?s?",
    "schlechte?[nrs]?",
    "ruim",
    "pessim[ao]",
    "cattiva",
    "una estrella",
    "une etoile",
    "einen stern",
    "uma estrela",
    "[01] (?:estrellas?|etoiles?|sterne?|estrelas?|stelle|stella|звезд\\w*)",
    "отрицательн\\w*",
    "негативн\\w*",
    "плох\\w*",
    "одну звезду",
)

_CONDITION = (
    Cue(
        _words(
            "if",
            "unless",
            "otherwise",
            "or else",
            "else",
            "until",
            "till",
            "provided",
            "as long as",
            "only if",
            "only when",
            "only after",
            "in exchange",
            "in return",
            "in that case",
            "si no",
            "sino",
            "de lo contrario",
            "a menos que",
            "hasta que",
            "sinon",
            "sauf si",
            "a moins que",
            "tant que",
            "sonst",
            "ansonsten",
            "es sei denn",
            "falls",
            "wenn",
            "senao",
            "caso contrario",
            "do contrario",
            "enquanto",
            "altrimenti",
            "se non",
            "a meno che",
            "se nao",
            "если",
            "иначе",
            "а то",
            "пока не",
        ),
        1.0,
    ),
    # an alternative introducing the consequence: "..., or I leave 1 star"
    Cue(
        r"\bor (?:i|ill|id|im|we|well|you|youll|your|expect|get|its|there|my|a|1|one|zero)\b",
        0.9,
    ),
    # "or" in any covered language, then a negative rating within a few words
    Cue(
        r"\b(?:or|o|ou|oder|oppure|или)(?: \w+){0,4} "
        r"(?:" + "|".join(_STRONG_NEGATIVE) + r"|bad|low|poor|1|one|zero)\b",
        0.9,
    ),
    Cue(r"\bor(?: \w+){0,5} (?:feedbacks?|reviews?|ratings?|stars?|dsrs?)\b", 0.8),
    Cue(r"\beither\b", 0.8),
    Cue(
        r"\b(?:o|ou|oder|oppure|или) (?:te|le|je|j|ich|eu|ti|vous|sie|dejo|pongo|doy|voy|dou|"
        r"deixo|vou|laisse|mets|gebe|lascio|metto|do|я)\b",
        0.9,
    ),
    # "no refund, no 5 stars" / "no gift = bad review"
    Cue(r"\bno \w+(?: \w+)? (?:no|then)\b", 0.9),
    # "want good feedback? then ...": a wish, then the price
    Cue(r"\b(?:want|wanna|need|like|expect)\b(?: \w+){0,5} (?:then|so)\b", 0.9),
    Cue(r"\bthen\b", 0.6),
    # imperative demand + promised consequence: "refund 50% and I will remove my review"
    Cue(
        r"\b(?:and|then|so) (?:i|ill|we|well)(?: will| shall| can| would| ll)? "
        r"(?:change|remove|delete|update|revise|edit|modify|raise|improve|upgrade|withdraw|"
        r"take|leave|give|rate|post|write)\b",
        0.8,
    ),
    Cue(
        r"\b(?:dont|do not|wouldnt|would not) (?:want|like|wish) to (?:leave|give|write|post)\b",
        0.8,
    ),
    Cue(_words("before i", "last chance", "final warning", "or we will see", "si", "se"), 0.6),
)

_FEEDBACK = (
    Cue(
        _words(
            "feedbacks?",
            "reviews?",
            "ratings?",
            "stars?",
            "dsrs?",
            "evaluations?",
            "reputation",
            "rate you",
            "rating you",
            "valoracion(?:es)?",
            "calificacion(?:es)?",
            "resenas?",
            "opinion(?:es)?",
            "estrellas?",
            "avis",
            "etoiles?",
            "bewertung(?:en)?",
            "rezension(?:en)?",
            "sterne?n?",
            "avaliac(?:ao|oes)",
            "estrelas?",
            "recension[ei]",
            "valutazione",
            "stelle|stella",
            "отзыв\\w*",
            "оценк\\w*",
            "звезд\\w*",
            "рейтинг\\w*",
        ),
        1.0,
    ),
    Cue(_words("comments?", "comentarios?", "commentaires?", "kommentar", "score", "rate"), 0.7),
    Cue(_words("note", "nota"), 0.5),
)

_NEGATIVE = (
    Cue(_words(*_STRONG_NEGATIVE), 1.0),
    Cue(
        _words(
            "bad",
            "poor",
            "low",
            "lower",
            "awful",
            "ruin",
            "destroy",
            "tank",
            "hurt your",
            "damage your",
            "warn (?:other|all|every)\\w*",
            "tell everyone",
            "expose you",
            "baja",
            "basse",
            "niedrige",
        ),
        0.8,
    ),
    # withholding a good rating: "no refund, no 5 stars", "you won't get a good review"
    Cue(
        r"\b(?:no|not|wont|will not|never|wouldnt|cant|cannot|forget)(?: \w+){0,3} "
        r"(?:5|five|good|positive|high|great|full|nice) "
        r"(?:stars?|feedback|review|rating|dsrs?)\b",
        0.8,
    ),
    # a good rating offered or wished for in exchange: "want good feedback? then ...",
    # "... and I will leave positive feedback" (implies withholding it); weak on its own
    Cue(
        r"\b(?:want|wanna|need|like|expect|get|leave|give|write|post|rate you)(?: \w+){0,2} "
        r"(?:good|positive|5|five|great|high|nice) (?:stars?|feedback|review|rating|dsrs?)\b",
        0.6,
    ),
    # a veiled threat: "want my review to stay positive? ..."
    Cue(
        r"\b(?:stay|stays|remain|remains|keep|keeps)(?: \w+){0,2} "
        r"(?:positive|good|5 stars?|five stars?)\b",
        0.7,
    ),
    # holding a bad rating hostage: "... and I will remove my review"
    Cue(
        _words(
            "change",
            "remove",
            "delete",
            "update",
            "revise",
            "modify",
            "withdraw",
            "retract",
            "take down",
            "cambiar",
            "eliminar",
            "borrar",
            "quitar",
            "modifier",
            "supprimer",
            "retirer",
            "andern",
            "entfernen",
            "loschen",
            "alterar",
            "remover",
            "apagar",
            "modificare",
            "rimuovere",
            "cambiare",
        ),
        0.7,
    ),
)

# a negative word that is itself negated: "I will not leave negative feedback", "no bad
# review"; but "if not, (I leave) negative feedback" is the condition, not a negation
_NEG_WORD = r"(?:negative|neg|bad|poor|low|[01] stars?|one stars?)\b"
_NEGATED = r"\b(?:(?:not|never|wont|dont|wouldnt|without|no need)(?: \w+){0,2}|no|nor) " + _NEG_WORD
_CONDITION_NOT = r"\b(?:if|or|whether|otherwise) not(?: \w+){0,2} " + _NEG_WORD
_NEGATIVE_WORDS = r"\b(?:negative|neg|bad|poor|low|[01] stars?|one stars?)\b"

_DEMAND = (
    Cue(
        _words(
            "partial refund",
            "partially refund",
            "extra",
            "additional",
            "another (?:one|item|piece|unit|pair|set|pack|color|colour|size)",
            "send (?:me )?(?:another|again|one more|a new|an extra|more|a second)",
            "one more",
            "a second one",
            "free",
            "for free",
            "gifts?",
            "bonus",
            "freebies?",
            "presents?",
            "compensation",
            "compensate",
            "discounts?",
            "coupons?",
            "vouchers?",
            "cashback",
            "cash",
            "money",
            "pay me",
            "paypal",
            "gift card",
            "half",
            "reimburse\\w*",
            "upgrade",
            "reembolso parcial",
            "descuentos?",
            "regalos?",
            "gratis",
            "dinero",
            "compensacion",
            "otr[oa]",
            "remboursement partiel",
            "cadeaux?",
            "gratuite?",
            "reduction",
            "argent",
            "dedommagement",
            "rabatt",
            "geschenk",
            "kostenlos",
            "geld",
            "entschadigung",
            "teilerstattung",
            "desconto",
            "brinde",
            "dinheiro",
            "compensacao",
            "sconto",
            "omaggio",
            "soldi",
            "rimborso parziale",
            "de graca",
            "outr[oa]",
            "скидк\\w*",
            "бесплатн\\w*",
            "подар\\w*",
            "компенсац\\w*",
            "деньг\\w*",
            "еще (?:один|одну|одно)",
            "частичн\\w*",
        ),
        1.0,
    ),
    # money: "$20", "20 usd", "50%", "€5"
    Cue(
        r"(?:[$€£¥₹₽] ?\d+|\d+ ?(?:[$€£¥₹₽%]|(?:usd|dollars?|dolar(?:es)?|bucks|eur|euros?|gbp|"
        r"pounds?|reais|real|pesos?|yuan|rmb|rubles?|roubles?|rupees?|lira|zloty|percent|pct|"
        r"por ?ciento|pour ?cent|prozent|por ?cento|per ?cento)\b))",
        1.0,
    ),
    Cue(
        _words(
            "refund",
            "refunded",
            "money back",
            "reembolso",
            "remboursement",
            "rembourser",
            "erstattung",
            "ruckerstattung",
            "rimborso",
            "devuelv\\w*",
            "devolu\\w*",
            "возврат\\w*",
            "верн\\w*",
        ),
        0.6,
    ),
)

#: The four cue families, in the order they are reported.
CUE_FAMILIES: dict[str, tuple[Cue, ...]] = {
    "condition": _CONDITION,
    "feedback": _FEEDBACK,
    "negative": _NEGATIVE,
    "demand": _DEMAND,
}

#: Output schema of :func:`threat_scores` (plus the id column, first).
THREAT_SCHEMA: dict[str, pl.DataType] = {
    "cue_condition": pl.Float64(),
    "cue_feedback": pl.Float64(),
    "cue_negative": pl.Float64(),
    "cue_demand": pl.Float64(),
    "match_condition": pl.String(),
    "match_feedback": pl.String(),
    "match_negative": pl.String(),
    "match_demand": pl.String(),
    "threat_score": pl.Float64(),
    "is_threat": pl.Boolean(),
    "explanation": pl.String(),
}

#: a cue weaker than this is "weak" (see ``max_weak_cues``)
_WEAK = 0.7

_LEET_FROM = ["0", "1", "3", "4", "5", "7", "@", "$", "!", "|"]
_LEET_TO = ["o", "i", "e", "a", "s", "t", "a", "s", "i", "l"]


def normalize_for_cues(text: pl.Expr) -> pl.Expr:
    """Return ``text`` normalised for cue matching (a polars expression).

    NFKD with diacritics removed, lower case, invisible characters removed,
    look-alike Cyrillic/Greek letters folded to Latin inside words that mix
    scripts (``rеviеw`` with Cyrillic ``е``; Russian words stay Russian),
    markup tags dropped, apostrophes
    removed (``won't`` -> ``wont``), star symbols and ``1*`` spelled as
    ``star``, ``=``/``->`` read as ``then``, leetspeak undone inside words that
    mix letters and digits (``n3gat1ve`` -> ``negative``, but ``5stars`` and
    ``20usd`` keep their numbers), everything else that is not a letter, digit,
    ``$``, ``€``, ``£`` or ``%`` turned into single spaces. Null becomes ``""``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"t": ["Ｎ3GAT1VE fééd-back, won't! 1* -> 5stars"]})
    >>> df.select(normalize_for_cues(pl.col("t"))).item()
    'negative feed back wont 1 star then 5 stars'
    """
    return _finish(_unleet(_prenormalize(text)))


#: sentence boundary marker (a private-use character) kept until the last step
_SENTENCE = "\ue000"


def _prenormalize(text: pl.Expr, *, ascii_only: bool = False) -> pl.Expr:
    """Fold ``text`` (see :func:`normalize_for_cues`) up to the leetspeak step.

    With ``ascii_only`` (the caller guarantees every value is ASCII) the Unicode steps
    that cannot change ASCII text are skipped: NFKD, combining marks, format
    characters and star symbols. The result is the same.
    """
    folded = text.fill_null("")
    if not ascii_only:
        folded = folded.str.normalize("NFKD").str.replace_all(r"\p{M}+", "")
    folded = folded.str.to_lowercase()
    if not ascii_only:
        folded = folded.str.replace_all(r"\p{Cf}+", "")
    folded = folded.str.replace_all(r"<[^>]{0,200}>", " ").str.replace_all(r"['’‘`´]", "")
    if not ascii_only:
        folded = folded.str.replace_all(r"[★☆⭐✩✪✫✬✭✮✯✰]", " star ")
    return (
        folded.str.replace_all(r"(\d)\s*\*+", "$1 star ")
        .str.replace_all(r"(\d)(stars?|usd|eur|dollars?|bucks|pcs)\b", "$1 $2")
        .str.replace_all(r"\s*(?:=+>?|-+>|→|⇒)\s*", " then ")
        .str.replace_all(r"(?:[.!?;]+(?:\s|$)|[\n\r])+", " " + _SENTENCE + " ")
        .str.replace_all(r"[\s,;:.!?()\[\]{}\"/\\*+=_~^&#-]+", " ")
    )


#: a token mixing Latin letters with leetspeak characters or with look-alike Cyrillic /
#: Greek letters (only rows holding one need the costly token pass of :func:`_unleet`)
_MIXED = r"[\p{Cyrillic}\p{Greek}013457@$!|]"
_LEET_TOKEN = r"[a-z][^ ]*" + _MIXED + "|" + _MIXED + r"[^ ]*[a-z]"


def _unleet(pre: pl.Expr) -> pl.Expr:
    e = pl.element()
    mixed_script = e.str.contains(r"[a-z]") & e.str.contains(r"[\p{Cyrillic}\p{Greek}]")
    leet = (
        e.str.contains(r"[a-z]")
        & e.str.contains(r"[013457@$!|]")
        & ~e.str.contains(r"^\$?\d+[a-z]{0,6}$")
    )
    folded = pl.when(mixed_script).then(e.str.replace_many(CONFUSABLES)).otherwise(e)
    return (
        pre.str.split(" ")
        .list.eval(
            pl.when(leet | mixed_script)
            .then(folded.str.replace_many(_LEET_FROM, _LEET_TO))
            .otherwise(e)
        )
        .list.join(" ")
    )


def _finish(text: pl.Expr, *, keep_sentences: bool = False) -> pl.Expr:
    keep = _SENTENCE if keep_sentences else ""
    return text.str.replace_all(r"[^\p{L}\p{N}$€£%" + keep + "]+", " ").str.strip_chars()


def _strength(norm: pl.Expr, cues: tuple[Cue, ...]) -> pl.Expr:
    parts = [
        pl.when(norm.str.contains(c.pattern)).then(pl.lit(c.weight)).otherwise(pl.lit(0.0))
        for c in cues
    ]
    return pl.max_horizontal(parts).cast(pl.Float64)


def _structure_cues(norm: pl.Expr) -> dict[str, pl.Expr]:
    """Strengths of the condition, feedback and negative families over ``norm``."""
    negated = norm.str.count_matches(_NEGATED) - norm.str.count_matches(_CONDITION_NOT)
    negative_words = norm.str.count_matches(_NEGATIVE_WORDS)
    # the negative family only counts when some negative word is not negated
    # (or when the consequence is a withheld good rating / a revision promise)
    only_negated = (negated > 0) & (negated >= negative_words)
    return {
        "condition": _strength(norm, _CONDITION),
        "feedback": _strength(norm, _FEEDBACK),
        "negative": pl.when(only_negated)
        .then(_strength(norm, _NEGATIVE[2:]))
        .otherwise(_strength(norm, _NEGATIVE)),
    }


def _any_of(cues: tuple[Cue, ...]) -> str:
    """One regex matching where any of ``cues`` matches (one pass instead of one per cue)."""
    return "|".join(f"(?:{c.pattern})" for c in cues)


def _first_match(norm: pl.Expr, cues: tuple[Cue, ...]) -> pl.Expr:
    # the strongest pattern that matched, as its first matched words (at most 40 chars)
    out = pl.lit(None, dtype=pl.String)
    for c in sorted(cues, key=lambda c: c.weight):
        out = (
            pl.when(norm.str.contains(c.pattern))
            .then(norm.str.extract("(" + c.pattern + ")", 1))
            .otherwise(out)
        )
    return out.str.slice(0, 40)


def _best_windows(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Per message, the two-sentence window with the strongest condition+feedback+negative."""
    w = pl.col("_w")
    window_cues = {f"w_{n}": e for n, e in _structure_cues(w).items()}
    return (
        frame.lazy()
        .select(id_col, _s=pl.col("_sent").str.split(_SENTENCE))
        .explode("_s")
        .with_columns(pl.col("_s").str.strip_chars())
        .filter(pl.col("_s").str.len_chars() > 0)
        .with_columns(_i=pl.int_range(pl.len()).over(id_col))
        .with_columns(_next=pl.col("_s").shift(-1).over(id_col))
        .with_columns(
            _w=pl.when(pl.col("_next").is_null())
            .then(pl.col("_s"))
            .otherwise(pl.col("_s") + pl.lit(" ") + pl.col("_next"))
        )
        .with_columns(**window_cues)
        .with_columns(
            _ok=pl.all_horizontal([pl.col(c) > 0 for c in window_cues]),
            _sum=pl.sum_horizontal(list(window_cues)),
        )
        .sort(id_col, "_ok", "_sum", "_i", descending=[False, True, True, False])
        .group_by(id_col, maintain_order=True)
        .agg(pl.all().first())
        .select(
            id_col,
            "_ok",
            *window_cues,
            **{
                f"wm_{n}": _first_match(w, CUE_FAMILIES[n])
                for n in ("condition", "feedback", "negative")
            },
        )
        .collect()
    )


def threat_scores(
    messages: pl.LazyFrame | pl.DataFrame,
    *,
    min_score: float = 0.75,
    max_weak_cues: int = 1,
    id_col: str = "message_id",
    text_col: str = "text",
    candidates_only: bool = False,
) -> pl.DataFrame:
    """Score every message for a conditional threat about feedback with a demand.

    Parameters
    ----------
    messages
        Frame with ``id_col`` and ``text_col`` (text may be null or contain markup).
    min_score
        Minimum mean strength of the four cue families for ``is_threat``; each
        family must also be present. At 0.75 a message needs mostly strong cues
        (e.g. "if" + "review" + "bad" + "refund" = 0.85 fires; "si" + "note" +
        "bad" + "refund" = 0.625 does not).
    max_weak_cues
        How many of the four families may be present only through a weak cue
        (strength below 0.7: "si", "then", a bare "refund", a good rating offered
        in exchange). With 1, "if you refund me I will give 5 stars" (two weak
        cues: a remedy and a promise, no threat) does not fire.
    id_col, text_col
        Names of the id and text columns.
    candidates_only
        Return only the messages in which all four cue families are present (the only
        ones that can be threats), found by screening on the rarest family (condition)
        first: much cheaper on a large table. The rows returned are identical to the
        full output's rows for these messages.

    Each distinct text is scored once and its row given to every message holding it
    (templates and campaigns repeat a text many times); a message's row depends on its
    text alone.

    Returns
    -------
    DataFrame
        One row per message (per candidate with ``candidates_only``), sorted by
        ``id_col``: ``id_col``, the strength of each cue family (``cue_condition``,
        ``cue_feedback``, ``cue_negative``, ``cue_demand``: 0 when absent), the words
        that fired each (``match_*``, null when absent), ``threat_score`` (mean of the
        four), ``is_threat`` and a
        plain-text ``explanation``.

    Examples
    --------
    >>> import polars as pl
    >>> msgs = pl.DataFrame({"message_id": ["m1"],
    ...                      "text": ["Unless you refund 50%, you get a 1 star review."]})
    >>> row = threat_scores(msgs).row(0, named=True)
    >>> row["is_threat"], row["match_condition"], row["match_demand"]
    (True, 'unless', '50%')
    """
    # every message with the same text gets the same scores: score each distinct text once
    # (templates and campaigns repeat one text many times), then map back to the ids
    frame = messages.lazy().select(id_col, _t=pl.col(text_col).fill_null("")).collect()
    texts = frame.select(pl.col("_t").unique()).with_row_index("_k")
    scored = _score_texts(
        texts, min_score=min_score, max_weak_cues=max_weak_cues, candidates_only=candidates_only
    )
    return (
        frame.join(scored.join(texts, on="_k").drop("_k"), on="_t")
        .select(id_col, *THREAT_SCHEMA)
        .sort(id_col)
    )


def _score_texts(
    texts: pl.DataFrame, *, min_score: float, max_weak_cues: int, candidates_only: bool
) -> pl.DataFrame:
    """:func:`threat_scores` of distinct texts ``_t`` keyed by the integer ``_k``."""
    id_col = "_k"
    # normalize_for_cues, with the costly leetspeak step only on the rows that need it,
    # keeping the sentence boundaries
    # most messages are plain ASCII: the Unicode folding steps run on the others only
    raw = texts.lazy()
    plain = pl.col("_t").str.contains(r"^[\x00-\x7f]*$")
    pre = pl.concat(
        [
            raw.filter(plain).select(id_col, _pre=_prenormalize(pl.col("_t"), ascii_only=True)),
            raw.filter(~plain).select(id_col, _pre=_prenormalize(pl.col("_t"))),
        ]
    ).collect()  # materialised once: both branches below read it
    pre = pre.lazy()
    leet = pl.col("_pre").str.contains(_LEET_TOKEN)
    keep = {"keep_sentences": True}
    lf = pl.concat(
        [
            pre.filter(leet).select(id_col, _sent=_finish(_unleet(pl.col("_pre")), **keep)),
            pre.filter(~leet).select(id_col, _sent=_finish(pl.col("_pre"), **keep)),
        ]
    ).with_columns(
        _norm=pl.col("_sent")
        .str.replace_all(_SENTENCE, " ", literal=True)
        .str.replace_all(" +", " ")
    )
    norm = pl.col("_norm")
    message_cues = _structure_cues(norm)
    cols = {
        **{f"cue_{n}": e for n, e in message_cues.items()},
        "cue_demand": _strength(norm, _DEMAND),
    }
    matches = {f"match_{name}": _first_match(norm, cues) for name, cues in CUE_FAMILIES.items()}
    cue_cols = list(cols)
    all_present = pl.all_horizontal([pl.col(c) > 0 for c in cue_cols])
    score = (pl.sum_horizontal([pl.col(c) for c in cue_cols]) / 4.0).round(6)
    fired = [
        pl.when(pl.col(f"cue_{n}") > 0).then(
            pl.format("{} '{}' ({})", pl.lit(n), pl.col(f"match_{n}"), pl.col(f"cue_{n}"))
        )
        for n in CUE_FAMILIES
    ]
    missing = [pl.when(pl.col(f"cue_{n}") == 0).then(pl.lit(n)) for n in CUE_FAMILIES]
    explanation = pl.format(
        "{}: cues {}; missing {}; score {}",
        pl.when(pl.col("is_threat"))
        .then(pl.lit("conditional feedback threat"))
        .otherwise(pl.lit("no threat")),
        pl.concat_str(fired, separator=", ", ignore_nulls=True),
        pl.concat_str(missing, separator=", ", ignore_nulls=True),
        pl.col("threat_score"),
    ).str.replace_all("missing ;", "missing none;", literal=True)
    ok = pl.col("_ok").fill_null(False)
    use_window = [
        pl.when(ok).then(pl.col(f"w_{n}")).otherwise(pl.col(f"cue_{n}")).alias(f"cue_{n}")
        for n in ("condition", "feedback", "negative")
    ] + [
        pl.when(ok).then(pl.col(f"wm_{n}")).otherwise(pl.col(f"match_{n}")).alias(f"match_{n}")
        for n in ("condition", "feedback", "negative")
    ]
    apart = all_present & ~ok
    if candidates_only:
        # a threat needs all four families; the condition family is rare in ordinary
        # messages, so it screens first and the other cues run on the survivors only
        lf = lf.filter(norm.str.contains(_any_of(_CONDITION)))
    message_level = lf.with_columns(**cols)
    if candidates_only:
        message_level = message_level.filter(all_present)
    message_level = message_level.with_columns(**matches).collect()
    # condition, feedback and consequence must also sit in one window of two adjacent
    # sentences (a long complaint mentioning "if", "review" and "bad" far apart is no
    # threat); the demand may be anywhere. Only messages with all four families can
    # pass, so only those are cut into windows.
    best = _best_windows(message_level.filter(all_present).select(id_col, "_sent"), id_col)
    out = (
        message_level.lazy()
        .join(best.lazy(), on=id_col, how="left")
        .with_columns(use_window)
        .with_columns(threat_score=score)
        .with_columns(
            is_threat=ok
            & all_present
            & (pl.col("threat_score") >= min_score)
            & (
                pl.sum_horizontal([(pl.col(c) < _WEAK).cast(pl.Int32) for c in cue_cols])
                <= max_weak_cues
            )
        )
        .with_columns(
            explanation=pl.when(apart)
            .then(
                explanation
                + pl.lit(" (condition, feedback and consequence are not within two adjacent")
                + pl.lit(" sentences)")
            )
            .otherwise(explanation)
        )
        .select(id_col, *THREAT_SCHEMA)
        .sort(id_col)
        .collect()
    )
    # negative cue fired only by a negated word: no match text to show
    return out.with_columns(
        pl.when(pl.col("cue_negative") == 0)
        .then(None)
        .otherwise(pl.col("match_negative"))
        .alias("match_negative")
    )
