"""Message and feedback text: honest templates, threats, refusals and spam, with variation.

Threats are written in several phrasings and languages (English, Spanish,
Portuguese, Russian, French, German, and informal spellings) and always make a
good rating conditional on something outside the listing: an extra item, a
partial refund, money. Honest complaints ask for what the listing promised and
never tie it to the rating, so a detector must read the condition, not just
the word "feedback". Spam is a template with small per-message variations.

Text is produced vectorised: a template index per row plus per-row values,
filled with polars string expressions.

Examples
--------
>>> import numpy as np
>>> fill(["hi {name}"], np.array([0, 0]), name=np.array(["a", "b"])).to_list()
['hi a', 'hi b']
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = [
    "BUYER_COMPLAINTS",
    "BUYER_FEEDBACK_NOTES",
    "BUYER_QUESTIONS",
    "BUYER_REQUESTS",
    "COMPLY_REPLIES",
    "FEEDBACK_MID",
    "FEEDBACK_NEG",
    "FEEDBACK_POS",
    "PRESALE_QUESTIONS",
    "REFUSALS",
    "SELLER_ANSWERS",
    "SELLER_COMPLAINT_REPLIES",
    "SELLER_FEEDBACK_REQUESTS",
    "SELLER_NEG",
    "SELLER_POS",
    "SPAM",
    "THANK_YOU",
    "THREATS",
    "THREAT_CONSEQUENCES",
    "THREAT_DEMANDS",
    "THREAT_FORMS",
    "compose_threats",
    "fill",
    "pick",
]

FEEDBACK_POS = [
    "Great seller, fast shipping!",
    "Item as described, thank you.",
    "Excellent quality, recommend.",
    "Arrived quickly, well packed.",
    "Perfect, exactly what I wanted",
    "Muy bien, llegó rápido.",
    "Tudo certo, recomendo o vendedor.",
    "Всё отлично, спасибо продавцу!",
    "good",
    "ok thanks",
]
FEEDBACK_MID = [
    "Took a long time to arrive but ok.",
    "Quality is average for the price.",
    "Smaller than expected.",
    "Packaging was damaged, item fine.",
]
FEEDBACK_NEG = [
    "Item broke after two days.",
    "Not as described, poor quality.",
    "Never arrived, seller did not help.",
    "Wrong size sent, no reply from seller.",
    "Muy mala calidad.",
    "Produto diferente do anúncio.",
]
SELLER_POS = ["Great buyer, fast payment!", "Thank you, welcome back!", "Smooth transaction."]
SELLER_NEG = [
    "Buyer was rude and abusive.",
    "Buyer did not follow instructions.",
    "Difficult buyer, not recommended.",
]

BUYER_QUESTIONS = [
    "Hello, when will my order ship?",
    "Hi, can you tell me the tracking number?",
    "Is the color exactly as in the photo?",
    "Could you send it to my work address instead?",
    "Hola, ¿cuándo envían mi pedido?",
    "Olá, qual o prazo de entrega?",
    "Здравствуйте, когда отправите заказ?",
    "Bonjour, le colis est-il parti ?",
]
SELLER_ANSWERS = [
    "Hello, your order ships within 48 hours.",
    "Tracking number will be updated tomorrow, thank you for waiting.",
    "Yes, the color is as shown in the pictures.",
    "Sorry, we can only ship to the address of the order.",
    "Dear friend, your parcel is on the way.",
]
BUYER_COMPLAINTS = [
    "The item arrived damaged, can you send a replacement?",
    "I received the wrong size, the listing says L but this is M.",
    "The listing says 2 pieces but I got only 1, please send the missing one.",
    "Package has not arrived after 30 days, please help.",
    "The charger in the listing was not in the box.",
    "El producto llegó roto, ¿pueden reembolsar?",
    "Chegou com defeito, podem trocar?",
]
SELLER_COMPLAINT_REPLIES = [
    "Sorry for the trouble, we will send a replacement today.",
    "We apologize, please open a return and we will refund you.",
    "Please send a photo so we can check with the warehouse.",
    "We have sent the missing part, thank you for your patience.",
]
PRESALE_QUESTIONS = [
    "Hi, do you ship to {country}?",
    "Is this item in stock in size {size}?",
    "Can you give a discount if I buy {qty} pieces?",
    "Is this original? Does it have warranty?",
    "Hola, ¿tienen la talla {size}?",
]
THANK_YOU = [
    "Dear {name}, thank you for your order #{ref}! We will ship it within 48h. "
    "Please contact us if anything is wrong before opening a dispute.",
]
BUYER_REQUESTS = [
    "Can you give me a discount on my next order?",
    "Please add a free gift, I am a loyal customer.",
    "Can you ship express for free?",
    "I want you to refund the shipping cost.",
]
REFUSALS = [
    "Sorry, we cannot do that. The item was sent as described.",
    "We are sorry but this is not possible.",
    "Dear customer, we cannot offer that, the price already includes everything.",
    "Lo sentimos, no podemos hacerlo.",
    "Desculpe, não é possível.",
]
COMPLY_REPLIES = [
    "OK, we will send the refund, please leave 5 stars.",
    "Fine, we will add the extra item to your parcel.",
]

#: Honest messages that mention feedback without making it conditional on anything
#: outside the listing (near misses for extortion detection).
BUYER_FEEDBACK_NOTES = [
    "Received today, thank you! I left 5 stars.",
    "Everything fine, I will leave positive feedback when I try it.",
    "Item arrived broken. I am disappointed and will leave honest feedback.",
    "Recibido, muchas gracias, ya dejé 5 estrellas.",
    "Chegou certinho, vou deixar avaliação positiva.",
    "Got it, great seller, 5 stars from me",
]
SELLER_FEEDBACK_REQUESTS = [
    "If you are satisfied, please leave us 5-star feedback :)",
    "Please do not leave negative feedback, contact us first and we will solve any problem.",
    "If anything is wrong, tell us before leaving a review, we always help.",
    "Thank you! A 5-star review would help our small shop a lot.",
]

#: Feedback extortion: a good rating made conditional on something not in the listing.
#: Fixed phrasings in several languages ...
THREATS = [
    "If you don't send me another one for free I will leave 1 star feedback.",
    "Refund me {pct}% or I leave negative feedback and bad DSR.",
    "Give me ${amount} and I will leave positive feedback, otherwise negative.",
    "Send an extra {item} for free or you will get a negative review.",
    "I will give 5 stars only if you refund {pct}% of the price.",
    "Pay me ${amount} back or I rate you 1 star on everything.",
    "unless u send me ${amount} i leave n3gative feedback",
    "want good feedback? then refund {pct} percent",
    "Si no me devuelves el {pct}% dejaré una valoración negativa.",
    "Quiero {amount} dólares o pongo 1 estrella.",
    "Se não me mandar outro igual de graça vou deixar feedback negativo.",
    "Me devolve {pct}% ou dou avaliação negativa.",
    "Верните {pct}% или я поставлю отрицательный отзыв.",
    "Пришлите бесплатно ещё один, иначе будет плохой отзыв.",
    "Envoyez-moi un article gratuit sinon je laisse un avis négatif.",
    "Schicken Sie mir {amount} Dollar, sonst gebe ich eine negative Bewertung.",
]
THREAT_ITEMS = ["item", "pair", "case", "charger", "one", "unit", "set"]

#: ... plus composed ones: a demand, a condition and a consequence, in any order.
THREAT_DEMANDS = [
    "send me a free {item}",
    "refund {pct}% of the price",
    "give me ${amount} back",
    "add a free gift to my next order",
    "pay me {amount} USD compensation",
    "give me a {pct}% discount",
]
THREAT_CONSEQUENCES = [
    "I will leave negative feedback",
    "you get 1 star and bad DSR",
    "I will write a bad review about your store",
    "my rating will be 1 star",
    "I leave negative feedback and report you",
]
THREAT_FORMS = [
    "{Demand} or {consequence}.",
    "{Demand}, otherwise {consequence}!",
    "Unless you {demand}, {consequence}.",
    "If you don't {demand} {consequence}",
    "Last chance: {demand}. If not, {consequence}.",
    "Hello. I want you to {demand}. Otherwise {consequence}. Thanks",
]

#: Unsolicited bulk messages; each campaign uses one template with small variations.
SPAM = [
    "{greet} {pct}% OFF all brand bags today only at {url} {emoji} code {code}",
    "{greet} Earn ${amount} per day working from home! Visit {url} {emoji}",
    "{greet} cheap followers & 5-star reviews for your store -> {url} (code {code})",
    "{greet} You have WON a gift card of ${amount}! Claim now: {url} {emoji}",
    "{greet} Best replica watches, {pct}% discount, whatsapp {code} {emoji}",
]
SPAM_GREETS = ["Hi!", "Hello friend,", "Dear customer,", "HI", "Hey,", "Hello dear,", ""]
SPAM_EMOJI = ["🔥", "💰", "🎁", "!!!", "✨", "", "👉"]


def compose_threats(rng: np.random.Generator, n: int) -> pl.Series:
    """Return ``n`` threats: fixed multilingual phrasings or composed demand/condition/consequence.

    Examples
    --------
    >>> compose_threats(np.random.default_rng(0), 3).len()
    3
    """
    fixed = fill(
        THREATS,
        pick(rng, THREATS, n),
        pct=rng.choice(np.arange(20, 80, 10), n),
        amount=rng.choice(np.array([5, 10, 15, 20, 30, 50]), n),
        item=rng.choice(np.array(THREAT_ITEMS), n),
    )
    demand = fill(
        THREAT_DEMANDS,
        pick(rng, THREAT_DEMANDS, n),
        pct=rng.choice(np.arange(20, 80, 10), n),
        amount=rng.choice(np.array([5, 10, 15, 20, 30, 50]), n),
        item=rng.choice(np.array(THREAT_ITEMS), n),
    )
    consequence = fill(THREAT_CONSEQUENCES, pick(rng, THREAT_CONSEQUENCES, n))
    capital = demand.str.slice(0, 1).str.to_uppercase() + demand.str.slice(1)
    composed = fill(
        THREAT_FORMS,
        pick(rng, THREAT_FORMS, n),
        demand=demand.to_numpy(),
        Demand=capital.to_numpy(),
        consequence=consequence.to_numpy(),
    )
    use_fixed = pl.Series(rng.random(n) < 0.5)
    return pl.select(pl.when(use_fixed).then(fixed).otherwise(composed).alias("text")).to_series()


def pick(rng: np.random.Generator, templates: list[str], n: int) -> np.ndarray:
    """Random template indices for ``n`` rows."""
    return rng.integers(0, len(templates), n)


def fill(templates: list[str], idx: np.ndarray, **values: np.ndarray) -> pl.Series:
    """Fill ``{placeholder}`` s of per-row templates with per-row values, vectorised.

    Parameters
    ----------
    templates
        The template strings.
    idx
        Template index per row.
    **values
        Placeholder name -> per-row values (any dtype; cast to text).

    Returns
    -------
    pl.Series
        One text per row (name ``text``).

    Examples
    --------
    >>> fill(["{a}-{b}"], np.array([0]), a=np.array([1]), b=np.array(["x"])).item()
    '1-x'
    """
    t = pl.Series("t", templates, dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))
    frame = pl.DataFrame({"t": t, **{k: np.asarray(v) for k, v in values.items()}})
    expr = pl.col("t")
    for key in values:
        expr = expr.str.replace_all("{" + key + "}", pl.col(key).cast(pl.String), literal=True)
    return frame.select(expr.alias("text")).to_series()


def random_codes(rng: np.random.Generator, n: int, length: int = 6) -> np.ndarray:
    """Short random alphanumeric codes (coupon-like), vectorised."""
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    chars = alphabet[rng.integers(0, len(alphabet), (n, length))]
    return chars.view(f"<U{length}").ravel() if n else np.empty(0, dtype=f"<U{length}")
