from __future__ import annotations

import polars as pl
import pytest

from graphkit.detect.threats import normalize_for_cues, threat_scores

# Conditional threats about feedback with a demand beyond the listing, in varied
# wording, word order, spelling and language. Written independently of the simulator.
THREATS = [
    "Send me a free phone case, otherwise I leave 1-star feedback!",
    "Unless you refund 50%, you get a 1 star review.",
    "If you don't give me a partial refund I will leave negative feedback.",
    "i want $15 back or i leave bad review",
    "Give me a discount on this order or else expect a negative rating from me.",
    "you will get NEGATIVE feedback if you dont send me another one for free",
    "No partial refund = 1 star. Your choice.",
    "Pay me 10 USD compensation and I will remove my negative review",
    "I will change my 1* rating to 5* only if you send an extra battery",
    "Until I receive some money back as compensation, my feedback stays negative.",
    "F R E E gift or n3gat1ve f33dback, simple as that",
    "<b>Refund me half</b> or I post a bad review everywhere",
    "Lowest DSR ratings coming unless you add a bonus item to my parcel.",
    "Listen: extra charger for free, otherwise one star. Deal?",
    "I expected a gift with my order. If none arrives I'll rate you 1 star.",
    "Si no me das un descuento, dejaré una valoración negativa.",
    "Sinon je laisse un avis négatif : je veux un remboursement partiel.",
    "Schicken Sie mir ein Geschenk, sonst gebe ich eine schlechte Bewertung.",
    "Se você não me der um desconto, vou deixar uma avaliação negativa.",
    "Voglio uno sconto, altrimenti lascio una recensione negativa.",
    "no bonus, no 5 stars. send another pair and we are good",
    "Dear seller, I'd hate to, but unless 20% comes back to me the review will be terrible.",
    "Want my review to stay positive? Then ship me the matching case for free.",
    "My 1-star rating will go up only when I get 10 dollars back",
    "I'll be forced to leave a negative review if you don't compensate me",
    "Unless you send a fr\u0435\u0435 gift, my r\u0435vi\u0435w will be n\u0435gativ\u0435",
    "neg\u200bative feedback unless partial refund",
    "Either a 20% discount or a one star review, your call.",
    "Quiero 10 euros de vuelta o te pongo una estrella.",
    "You want a positive review? Then send 15 dollars.",
    "Add a bonus item to the box. If not, negative review from me.",
    "Give 20% back; if no refund, negative feedback.",
    "Если не дадите скидку, я оставлю плохой отзыв.",
    "Сделайте частичный возврат, иначе поставлю одну звезду.",
    "Quero um brinde, senão dou uma estrela.",
    "Ｉｆ ｙｏｕ ｄｏｎ'ｔ ｓｅｎｄ ａ ｆｒｅｅ ｇｉｆｔ，ｎｅｇａｔｉｖｅ ｆｅｅｄｂａｃｋ",
]

# Near misses: complaints, requests, promises and seller asks that are not extortion.
NOT_THREATS = [
    "Item arrived broken, I will leave honest feedback.",
    "If you are happy with the item, please leave us 5 star feedback!",
    "The item is broken, I would like a refund please.",
    "Please send the tracking number.",
    "If the item does not arrive by Friday I will leave negative feedback.",
    "I want a refund or I will open a dispute.",
    "Thanks! Left you 5 stars, great seller. A discount next time would be nice :)",
    "Don't worry, I will not leave negative feedback, just send the replacement.",
    "Sorry for the bad review earlier, it was the courier's fault.",
    "Hello, is this available in blue? Free shipping to Spain?",
    "",
    None,
    "Can you give me a discount if I buy two?",
    "I left a negative review because the size was wrong.",
    "Gracias, todo perfecto, cinco estrellas.",
    "I hope your reviews stay positive, great seller!",
    "Either blue or red is fine, thank you.",
    "Could you tell me if the item has a warranty? I left a good review already.",
    "If you refund me I will give 5 stars.",
    "Спасибо, отличный продавец, пять звезд!",
    "Если посылка не придет, оставлю отрицательный отзыв.",
    "Obrigado, chegou tudo certo, cinco estrelas.",
    "No bad review from me, but could you add a free sticker next time if possible?",
    "I will leave positive feedback once it arrives.",
    "If possible, please add a small gift wrap, it is a present. Thanks!",
]


def _scores(texts: list[str | None]) -> pl.DataFrame:
    msgs = pl.DataFrame(
        {"message_id": [f"m{i:03d}" for i in range(len(texts))], "text": texts},
        schema={"message_id": pl.String, "text": pl.String},
    )
    return threat_scores(msgs)


@pytest.fixture(scope="module")
def scored() -> pl.DataFrame:
    """All phrasings scored in one call (one vectorised pass, as in production)."""
    return _scores([*THREATS, *NOT_THREATS])


@pytest.mark.parametrize("i", range(len(THREATS)), ids=[t[:40] for t in THREATS])
def test_threats_fire(scored: pl.DataFrame, i: int) -> None:
    row = scored.row(i, named=True)
    assert row["is_threat"], (THREATS[i], row["explanation"])
    assert row["threat_score"] >= 0.75
    assert "conditional feedback threat" in row["explanation"]


@pytest.mark.parametrize("i", range(len(NOT_THREATS)), ids=[str(t)[:40] for t in NOT_THREATS])
def test_near_misses_do_not_fire(scored: pl.DataFrame, i: int) -> None:
    row = scored.row(len(THREATS) + i, named=True)
    assert not row["is_threat"], (NOT_THREATS[i], row["explanation"])


def test_markup_inside_a_tag_is_never_read() -> None:
    # the threat words live inside a tag: dropped by normalisation
    row = _scores(['<a title="unless refund, negative feedback">hello</a>']).row(0, named=True)
    assert row["cue_negative"] == 0.0
    assert not row["is_threat"]


def test_cues_and_explanation_name_the_words() -> None:
    row = _scores(["Unless you refund 50%, you get a 1 star review."]).row(0, named=True)
    assert row["match_condition"] == "unless"
    assert row["match_feedback"] == "star"
    assert row["match_negative"] == "1 star"
    assert row["match_demand"] == "50%"
    assert row["cue_condition"] == 1.0
    assert "condition 'unless'" in row["explanation"]
    assert "missing none" in row["explanation"]


def test_missing_family_is_explained() -> None:
    row = _scores(["If the parcel is late I leave negative feedback"]).row(0, named=True)
    assert row["cue_demand"] == 0.0
    assert row["match_demand"] is None
    assert "missing demand" in row["explanation"]


def test_structure_must_sit_in_adjacent_sentences() -> None:
    out = _scores(
        [
            # the cues are all there, but scattered over an unrelated story
            "I left a negative review for another shop last month. They never sent the free "
            "gift they promised. Anyway, thanks for the quick reply. Hope this one is good. "
            "If it ships fast I will be happy.",
            # the threat spans two sentences; the demand is three sentences earlier
            "I want a partial refund. The box was dented. Also the colour is off. "
            "If you say no. I will leave negative feedback.",
        ]
    )
    first, second = out.row(0, named=True), out.row(1, named=True)
    assert not first["is_threat"]
    assert "not within two adjacent sentences" in first["explanation"]
    assert second["is_threat"], second["explanation"]
    assert second["match_demand"] == "partial refund"


def test_negated_negative_is_not_a_consequence() -> None:
    out = _scores(
        [
            "I will never leave bad feedback, unless you refund 30% (just kidding)",
            "Unless you refund 30% I will leave bad feedback",
        ]
    )
    assert out["cue_negative"].to_list() == [0.0, 0.8]
    assert out["is_threat"].to_list() == [False, True]


def test_min_score_is_a_real_threshold() -> None:
    # weak cues only: "si" (0.6) + "note" (0.5) + "bad" (0.8) + "refund" (0.6) = 0.625
    text = "si refund bad note"
    assert not _scores([text])["is_threat"].item()
    msgs = pl.DataFrame({"message_id": ["m"], "text": [text]})
    assert not threat_scores(msgs, min_score=0.6)["is_threat"].item()  # 3 weak cues
    assert threat_scores(msgs, min_score=0.6, max_weak_cues=3)["is_threat"].item()


def test_two_weak_cues_do_not_make_a_threat() -> None:
    # a remedy (refund, weak) and a promised good rating (weak): no threat by default
    msgs = pl.DataFrame({"message_id": ["m"], "text": ["If you refund me I will give 5 stars"]})
    row = threat_scores(msgs).row(0, named=True)
    assert row["threat_score"] >= 0.75
    assert not row["is_threat"]
    assert threat_scores(msgs, max_weak_cues=2)["is_threat"].item()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("N3GAT1VE f33dback", "negative feedback"),
        ("won't", "wont"),
        ("5stars 20usd", "5 stars 20 usd"),
        ("1* -> refund", "1 star then refund"),
        ("Évaluation NÉGATIVE", "evaluation negative"),
        ("ca$h", "cash"),
        ("$20 50%", "$20 50%"),
    ],
)
def test_normalize_for_cues(raw: str, expected: str) -> None:
    assert pl.select(normalize_for_cues(pl.lit(raw))).item() == expected


def test_output_sorted_typed_and_deterministic() -> None:
    texts = [*THREATS, *NOT_THREATS]
    a = _scores(texts)
    b = threat_scores(
        pl.DataFrame({"message_id": [f"m{i:03d}" for i in range(len(texts))], "text": texts})
        .reverse()
        .lazy()
    )
    assert a.equals(b)
    assert a["message_id"].is_sorted()
    assert a.schema["threat_score"] == pl.Float64
    assert a.height == len(texts)


def test_candidates_only_keeps_exactly_the_rows_with_all_four_families() -> None:
    texts = THREATS + NOT_THREATS
    msgs = pl.DataFrame(
        {"message_id": [f"m{i:03d}" for i in range(len(texts))], "text": texts},
        schema={"message_id": pl.String, "text": pl.String},
    )
    fast = threat_scores(msgs, candidates_only=True)
    cues = ["cue_condition", "cue_feedback", "cue_negative", "cue_demand"]
    full = threat_scores(msgs).filter(pl.all_horizontal([pl.col(c) > 0 for c in cues]))
    assert fast.equals(full)
    # every threat is a candidate, and near misses lacking a family are screened out
    assert fast.filter("is_threat").height == len(THREATS)
    assert 0 < fast.height < msgs.height


def test_ascii_fast_path_folds_like_the_full_path() -> None:
    from graphkit.detect.threats import _prenormalize

    texts = [t for t in THREATS + NOT_THREATS if t is not None and t.isascii()]
    texts += ["<b>IF</b> you don't -> 1* review!!", "5stars=>ok; `quote` 20usd", "", "tab\tx"]
    df = pl.DataFrame({"t": texts})
    full = df.select(_prenormalize(pl.col("t"))).to_series()
    fast = df.select(_prenormalize(pl.col("t"), ascii_only=True)).to_series()
    assert len(texts) > 20
    assert fast.to_list() == full.to_list()


def test_repeated_texts_are_scored_once_with_the_rows_of_a_per_message_run() -> None:
    # each distinct text is scored once and mapped back: a message repeating another's
    # text (a template, null as empty) gets exactly the row it gets when scored alone
    texts = [THREATS[0], NOT_THREATS[0], THREATS[0], None, "", THREATS[1], NOT_THREATS[0]]
    ids = [f"m{i}" for i in range(len(texts))]
    msgs = pl.DataFrame(
        {"message_id": ids, "text": texts}, schema={"message_id": pl.String, "text": pl.String}
    )
    together = threat_scores(msgs)
    alone = pl.concat([threat_scores(msgs.slice(i, 1)) for i in range(msgs.height)])
    assert together.equals(alone)
    assert together["is_threat"].to_list() == [True, False, True, False, False, True, False]
    fast = threat_scores(msgs, candidates_only=True)
    assert fast["message_id"].to_list() == ["m0", "m2", "m5"]
    assert fast.equals(together.filter(pl.col("message_id").is_in(["m0", "m2", "m5"])))


def test_condition_screen_is_the_union_of_the_condition_patterns() -> None:
    from graphkit.detect.threats import _CONDITION, _any_of, _strength, normalize_for_cues

    texts = [t for t in THREATS + NOT_THREATS if t is not None]
    texts += ["or ill tell", "no gift no stars", "then", "ok thanks", "wenn du", "si", "sino"]
    norm = pl.DataFrame({"t": texts}).select(normalize_for_cues(pl.col("t")).alias("n"))
    got = norm.select(pl.col("n").str.contains(_any_of(_CONDITION))).to_series()
    want = norm.select(_strength(pl.col("n"), _CONDITION) > 0).to_series()
    assert got.to_list() == want.to_list()
    assert 0 < got.sum() < len(texts)
