"""Near-duplicate text: character shingles, MinHash signatures, LSH banding, clusters.

Messages that say the same thing with small edits (a name swapped, a typo, a
different price, an extra emoji) get the same cluster. The pipeline is
vectorised end to end:

1. :func:`normalize_for_similarity` folds case, Unicode compatibility forms
   and diacritics, drops markup tags, maps every digit to ``0`` and collapses
   punctuation and whitespace (a polars expression).
2. Distinct normalised texts get character ``k``-gram shingles, hashed to
   ``UInt64`` by polars (``int_ranges`` + ``explode`` + ``str.slice``).
3. :func:`minhash_signatures` applies ``num_perm`` random multiply-add-shift
   hash functions ``(a*x + b) >> 32`` (``a`` odd, arithmetic mod 2**64: a
   2-universal family) to every shingle and keeps the per-text minimum, in
   one polars ``group_by().agg()`` (multi-threaded, no Python loop over rows).
4. LSH banding: the signature is cut into ``bands`` bands of ``rows`` rows;
   texts whose band hashes collide are candidates. Each bucket is linked as a
   star to its smallest member (linear, not quadratic, in the bucket size),
   and a candidate pair is kept when its estimated Jaccard similarity (share of
   equal signature rows) reaches ``threshold``.
5. Connected components of the kept pairs (igraph) are the clusters.

The id of a cluster is the smallest ``message_id`` in it: stable, readable
and independent of how the input is partitioned. Shingle hashes come from
polars' ``Expr.hash`` with a fixed seed, so results are byte-identical for the
same input, seed and polars version.

Examples
--------
>>> import polars as pl
>>> from graphkit.detect.text import near_duplicate_clusters
>>> msgs = pl.DataFrame({
...     "message_id": ["m1", "m2", "m3"],
...     "text": ["Cheap watches at example.com, 50% off today!",
...              "cheap watches at example.com - 60% off today!!",
...              "Where is my parcel?"],
... })
>>> near_duplicate_clusters(msgs)["cluster_id"].to_list()
['m1', 'm1', 'm3']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

__all__ = [
    "CLUSTER_SCHEMA",
    "CONFUSABLES",
    "estimated_jaccard",
    "fold_confusables",
    "minhash_signatures",
    "near_duplicate_clusters",
    "normalize_for_similarity",
]

#: Output schema of :func:`near_duplicate_clusters`.
CLUSTER_SCHEMA: dict[str, pl.DataType] = {
    "message_id": pl.String(),
    "cluster_id": pl.String(),
    "cluster_size": pl.Int64(),
    "cluster_variants": pl.Int64(),
}

_SHINGLE_SEED = 0x5EED
_CHUNK_TEXTS = 200_000


# Cyrillic and Greek letters that look like Latin ones (a spammer's way around exact matching)
#: Lower-case Cyrillic / Greek letters that look like Latin ones -> the Latin letter.
CONFUSABLES: dict[str, str] = dict(
    zip("аеорсухіјѕԁɡһӏոԛѵԝαεικνοτυχ", "aeopcyxijsdghlnqvwaeiknotux", strict=True)
)
_CONFUSABLE_FROM = list(CONFUSABLES)
_CONFUSABLE_TO = list(CONFUSABLES.values())


def fold_confusables(text: pl.Expr) -> pl.Expr:
    """Return ``text`` with invisible format characters removed and look-alike letters folded.

    Zero-width and other format characters (Unicode category Cf) are deleted, and
    lower-case Cyrillic / Greek letters that look like Latin ones are mapped to them, so
    ``rеviеw`` written with Cyrillic ``е`` reads ``review``. Apply after lower-casing.

    Examples
    --------
    >>> import polars as pl
    >>> pl.select(fold_confusables(pl.lit("r\u0435vi\u200b\u0435w"))).item()
    'review'
    """
    return text.str.replace_all(r"\p{Cf}+", "").str.replace_many(_CONFUSABLE_FROM, _CONFUSABLE_TO)


def normalize_for_similarity(text: pl.Expr) -> pl.Expr:
    """Return ``text`` folded for near-duplicate comparison (a polars expression).

    Unicode compatibility decomposition (NFKD: full-width letters, ligatures,
    styled letters become plain ones), diacritics removed, lower case, markup
    tags dropped, invisible characters removed and look-alike Cyrillic/Greek
    letters folded to Latin (:func:`fold_confusables`), every digit mapped to
    ``0`` (prices, codes and counters vary between copies of a template),
    everything that is not a letter or digit turned into one space. Null stays
    null.

    Parameters
    ----------
    text
        A string expression.

    Returns
    -------
    Expr
        The normalised string expression.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"t": ["<b>ＢＩＧ</b> Sále: 50% off!!"]})
    >>> df.select(normalize_for_similarity(pl.col("t"))).item()
    'big sale 00 off'
    """
    folded = fold_confusables(
        text.str.normalize("NFKD").str.replace_all(r"\p{M}+", "").str.to_lowercase()
    )
    return (
        folded.str.replace_all(r"<[^>]{0,200}>", " ")
        .str.replace_all(r"\d", "0")
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def _shingles(texts: pl.LazyFrame, k: int) -> pl.LazyFrame:
    """``(t, h)``: the hashed character ``k``-grams of each text (a text shorter than k is one)."""
    n = (pl.col("_norm").str.len_chars().cast(pl.Int64) - (k - 1)).clip(lower_bound=1)
    return (
        texts.select("t", "_norm", _pos=pl.int_ranges(0, n, dtype=pl.Int32))
        .explode("_pos")
        .select("t", h=pl.col("_norm").str.slice(pl.col("_pos"), k).hash(_SHINGLE_SEED))
    )


def minhash_signatures(
    texts: pl.Series | Sequence[str], *, k: int = 5, num_perm: int = 64, seed: int = 0
) -> np.ndarray:
    """Return the MinHash signatures of already-normalised texts.

    Parameters
    ----------
    texts
        Non-empty strings (normalise them first, e.g. with :func:`normalize_for_similarity`).
    k
        Shingle length in characters.
    num_perm
        Number of hash functions (signature length).
    seed
        Seed of the hash functions.

    Returns
    -------
    numpy.ndarray
        ``(len(texts), num_perm)`` ``uint32`` array; row ``i`` is the signature of ``texts[i]``.

    Examples
    --------
    >>> sig = minhash_signatures(["spam spam spam", "spam spam spam"], num_perm=8)
    >>> sig.shape, bool((sig[0] == sig[1]).all())
    ((2, 8), True)
    """
    s = pl.Series("_norm", texts, dtype=pl.String)
    out = np.empty((s.len(), num_perm), dtype=np.uint32)
    if s.len() == 0:
        return out
    a, b = _permutations(num_perm, seed)
    aggs = [
        ((pl.col("h") * pl.lit(int(a[j]), pl.UInt64) + pl.lit(int(b[j]), pl.UInt64)) // 2**32)
        .min()
        .cast(pl.UInt32)
        .alias(f"s{j}")
        for j in range(num_perm)
    ]
    frame = pl.DataFrame({"_norm": s}).with_row_index("t")
    # a handful of chunks bounds the memory of the exploded shingles
    for lo in range(0, frame.height, _CHUNK_TEXTS):
        part = frame.slice(lo, _CHUNK_TEXTS).lazy()
        # materialise the shingles first: inside one lazy plan the 64 aggregations
        # would each recompute the slices and hashes
        shingles = _shingles(part, k).collect()
        sig = shingles.lazy().group_by("t").agg(aggs).sort("t").collect()
        out[lo : lo + sig.height] = sig.drop("t").to_numpy()
    return out


def estimated_jaccard(sig: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return the estimated Jaccard similarity of signature rows ``left[i]`` and ``right[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> sig = np.array([[1, 2, 3, 4], [1, 2, 0, 4]], dtype=np.uint32)
    >>> estimated_jaccard(sig, np.array([0]), np.array([1])).tolist()
    [0.75]
    """
    out = np.empty(len(left), dtype=np.float64)
    step = 1_000_000
    for lo in range(0, len(left), step):
        hi = lo + step
        out[lo:hi] = (sig[left[lo:hi]] == sig[right[lo:hi]]).mean(axis=1)
    return out


def _band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """``(n, bands)`` uint64 hash of each band's rows (wrapping polynomial mix)."""
    n, num_perm = sig.shape
    rows = num_perm // bands
    mult = _permutations(rows, 0x0BA5D)[0]
    keys = np.zeros((n, bands), dtype=np.uint64)
    blocks = sig[:, : rows * bands].astype(np.uint64).reshape(n, bands, rows)
    for r in range(rows):
        keys ^= blocks[:, :, r] * mult[r]
        keys = (keys << np.uint64(7)) | (keys >> np.uint64(57))
    return keys


def _candidate_pairs(keys: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Star-link every LSH bucket (same group, band, key) to its smallest member."""
    n, bands = keys.shape
    long = pl.DataFrame(
        {
            "t": np.repeat(np.arange(n, dtype=np.int64), bands),
            "g": np.repeat(group, bands),
            "band": np.tile(np.arange(bands, dtype=np.int16), n),
            "key": keys.reshape(-1),
        }
    )
    pairs = (
        long.lazy()
        .with_columns(rep=pl.col("t").min().over("g", "band", "key"))
        .filter(pl.col("t") != pl.col("rep"))
        .select("rep", "t")
        .unique()
        .sort("rep", "t")
        .collect()
    )
    return pairs["rep"].to_numpy(), pairs["t"].to_numpy()


def near_duplicate_clusters(
    messages: pl.LazyFrame | pl.DataFrame,
    *,
    k: int = 5,
    num_perm: int = 64,
    bands: int = 16,
    threshold: float = 0.5,
    by: str | Sequence[str] | None = None,
    id_col: str = "message_id",
    text_col: str = "text",
    seed: int = 0,
) -> pl.DataFrame:
    """Cluster messages whose texts are near-duplicates (MinHash + LSH + components).

    Parameters
    ----------
    messages
        Frame with ``id_col`` and ``text_col`` (and the ``by`` columns, if any).
    k
        Character shingle length. 5 keeps word order and survives single-word edits.
    num_perm
        MinHash signature length; more is a finer Jaccard estimate (std ~ 1/sqrt(num_perm)).
    bands
        LSH bands (``num_perm // bands`` rows each). The candidate curve's midpoint is
        about ``(1/bands) ** (bands/num_perm)``: 0.5 for 64/16.
    threshold
        Minimum estimated Jaccard similarity of shingle sets for two texts to be linked.
    by
        Optional column(s) clusters must not cross (e.g. ``"sender_id"``), which makes
        the function partition-ready by those keys. ``None`` clusters across the whole frame.
    id_col, text_col
        Names of the id and text columns.
    seed
        Seed of the MinHash hash functions.

    Returns
    -------
    DataFrame
        One row per input message, sorted by ``id_col``: ``message_id`` (named
        ``id_col``), ``cluster_id`` (the smallest message id of its cluster; null
        when the normalised text is empty), ``cluster_size`` (messages in the
        cluster) and ``cluster_variants`` (distinct normalised texts in it).

    Examples
    --------
    >>> import polars as pl
    >>> msgs = pl.DataFrame({
    ...     "message_id": ["a", "b", "c", "d"],
    ...     "sender_id": ["s1", "s1", "s2", "s1"],
    ...     "text": ["Visit my store for great deals", "visit my store for GREAT deals!",
    ...              "Visit my store for great deals", None],
    ... })
    >>> near_duplicate_clusters(msgs, by="sender_id")["cluster_id"].to_list()
    ['a', 'a', 'c', None]
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    if bands < 1 or num_perm % bands:
        raise ValueError(f"bands must divide num_perm; got num_perm={num_perm}, bands={bands}")
    df = (
        messages.lazy()
        .select(id_col, *by_cols, _norm=normalize_for_similarity(pl.col(text_col)))
        .collect()
    )
    key_cols = [*by_cols, "_norm"]
    texts = (
        df.filter(pl.col("_norm").str.len_chars() > 0)
        .select(key_cols)
        .unique()
        .sort(key_cols)
        .with_row_index("t")
    )
    schema = {**CLUSTER_SCHEMA}
    schema[id_col] = schema.pop("message_id")
    if texts.height == 0:
        return df.select(
            pl.col(id_col), *[pl.lit(None, dtype=d).alias(c) for c, d in CLUSTER_SCHEMA.items()][1:]
        ).sort(id_col)

    sig = minhash_signatures(texts["_norm"], k=k, num_perm=num_perm, seed=seed)
    group = (
        texts.select(pl.struct(by_cols).rank("dense").cast(pl.Int64)).to_series().to_numpy()
        if by_cols
        else np.zeros(texts.height, dtype=np.int64)
    )
    left, right = _candidate_pairs(_band_keys(sig, bands), group)
    keep = estimated_jaccard(sig, left, right) >= threshold
    component = _components(texts.height, left[keep], right[keep])

    per_message = df.join(
        texts.with_columns(comp=pl.Series(component, dtype=pl.Int64)),
        on=key_cols,
        how="left",
        maintain_order="left",
    )
    out = per_message.with_columns(
        cluster_id=pl.col(id_col).min().over("comp"),
        cluster_size=pl.len().over("comp").cast(pl.Int64),
        cluster_variants=pl.col("t").n_unique().over("comp").cast(pl.Int64),
    ).with_columns(
        [
            pl.when(pl.col("comp").is_not_null()).then(pl.col(c)).alias(c)
            for c in ("cluster_id", "cluster_size", "cluster_variants")
        ]
    )
    return out.select([pl.col(c).cast(d) for c, d in schema.items()]).sort(id_col)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    import igraph as ig

    edges = np.column_stack([left, right]).astype(np.int64)
    graph = ig.Graph(n=n, edges=edges)
    return np.asarray(graph.connected_components().membership, dtype=np.int64)
