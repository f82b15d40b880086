"""Complaint classification: reason, urgency and language of one customer message, offline on CPU.

Character n-gram TF-IDF (typos, missing accents and mixed languages need no stemmer) and a linear
model per question (a linear SVM with Platt-calibrated probabilities): the reason, urgency (with
escalation cues as extra features) and the language. Trained from the set
shipped in app/insights/data/complaints (no download at run time), deterministically (lbfgs, no
random state involved), once per process; a shop's corrections train that shop's model only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC
from unidecode import unidecode

from app.insights import dataset
from app.refunds.reasons import CLAIMED

# The reasons a customer can give, shared with refund reasons (one list).
REASONS = CLAIMED
LANGUAGES = dataset.LANGUAGES
MAX_TEXT = 5000
# A merchant's correction counts as much as this many shipped examples: it is the shop's own truth.
CORRECTION_WEIGHT = 5.0
_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


def folded(text: str) -> str:
    """What the reason and urgency models read: lower case, accents folded ("recu" = "reçu"), every
    digit a 0 (order numbers say nothing about the complaint), one space between words."""
    return _SPACE.sub(" ", _DIGITS.sub("0", unidecode(text[:MAX_TEXT]).lower())).strip()


def accented(text: str) -> str:
    """What the language model reads: accents kept (é, ñ, ß and ü tell languages apart)."""
    return _SPACE.sub(" ", _DIGITS.sub("0", text[:MAX_TEXT].lower())).strip()


# Escalation outside the shop, as customers write it (folded: no accents, lower case). The
# urgency model weighs these next to the char n-grams: with a few hundred urgent examples the
# n-grams alone miss the rarer channels (a consumer authority, a card scheme by name).
ESCALATION_CUES = (
    r"\bbank|\bbanque|\bbanco|kreditkartenfirma|kartenbank|card (issuer|company)|credit card company",
    r"charge ?back|contracargo|ruckbuchung|zuruck ?buchen|retrofacturation|opposition",
    r"\bdisput|\blitige|\bdisputa|konfliktfall|widerspreche",
    r"paypal",
    r"lawyer|solicitor|avocat|abogad|anwalt",
    r"police|polizei|policia|gendarmerie|plainte|denunci|anzeige",
    r"trading standards|dgccrf|repression des fraudes|\bconsumo\b|verbraucherzentrale|\bocu\b|\bbbb\b"
    r"|better business bureau|action fraud",
    r"\bico\b|\bcnil\b|\baepd\b|datenschutz",  # data-protection authorities
    r"revers|zuruckhol|zuruckbuch|bucht .{0,20}zuruck|devolver el cargo|annuler (le paiement|l.operation)",
    r"\bvisa\b|mastercard|amex",
    r"scam|arnaque|escroquerie|estafa|betrug",
    r"fraud|fraude",
)
_CUES = tuple(re.compile(cue) for cue in ESCALATION_CUES)


def escalation_cues(folded_texts: Sequence[str]) -> sparse.csr_matrix:
    return sparse.csr_matrix(
        np.array([[1.0 if cue.search(text) else 0.0 for cue in _CUES] for text in folded_texts])
    )


def _chars(ngrams: tuple[int, int]) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True)


def _probabilities(model: CalibratedClassifierCV, row: sparse.csr_matrix) -> np.ndarray:
    """model.predict_proba(row)[0] without scikit-learn's per-call checks (1.8 of 4.7 ms a message):
    the SVM's decision values through each class's fitted sigmoid, normalised as scikit-learn does."""
    calibrated = model.calibrated_classifiers_[0]
    svm = calibrated.estimator
    decision = np.asarray(row @ svm.coef_.T).ravel() + svm.intercept_
    sigmoids = np.array([1.0 / (1.0 + np.exp(c.a_ * d + c.b_)) for c, d in zip(calibrated.calibrators, decision, strict=True)])
    if len(model.classes_) == 2:
        return np.array([1.0 - sigmoids[0], sigmoids[0]])
    total = sigmoids.sum()
    return sigmoids / total if total > 0 else np.full(len(sigmoids), 1.0 / len(sigmoids))


def _calibrated(C: float, *, balanced: bool = False) -> CalibratedClassifierCV:
    # Platt scaling over 5 unshuffled folds: deterministic, and `confidence` is a probability.
    return CalibratedClassifierCV(
        LinearSVC(C=C, class_weight="balanced" if balanced else None, random_state=0), cv=5, method="sigmoid",
        ensemble=False
    )


@dataclass(frozen=True)
class Classification:
    reason: str
    urgent: bool
    language: str
    confidence: float
    urgent_probability: float
    language_confidence: float
    # The n-grams that pushed the reason most, from the model's own weights (shown to the merchant).
    because: tuple[str, ...] = ()

    def as_api(self) -> dict[str, object]:
        return {"reason": self.reason, "urgent": self.urgent, "language": self.language,
                "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class LabelledText:
    text: str
    reason: str
    urgent: bool
    weight: float = 1.0


class ComplaintModel:
    """Hyper-parameters (char n-grams 1-5, C) were chosen by 5-fold cross-validation on the
    training part only; the held-out part is used for the reported figures alone."""

    def __init__(self, examples: Sequence[LabelledText], language_examples: Sequence[tuple[str, str]]) -> None:
        if not examples:
            raise ValueError("no examples to train on")
        texts = [folded(e.text) for e in examples]
        weights = np.array([e.weight for e in examples])
        self._chars = _chars((1, 5)).fit(texts)
        matrix = self._chars.transform(texts)
        self._reason = _calibrated(3.0).fit(matrix, [e.reason for e in examples], sample_weight=weights)
        self._urgent = _calibrated(1.0, balanced=True).fit(
            sparse.hstack([matrix, escalation_cues(texts)]).tocsr(), [e.urgent for e in examples],
            sample_weight=weights,
        )
        self._language_chars = _chars((1, 4)).fit([accented(t) for t, _ in language_examples])
        self._language = _calibrated(1.0).fit(
            self._language_chars.transform([accented(t) for t, _ in language_examples]),
            [language for _, language in language_examples],
        )
        # The reason model's own weights explain each answer.
        self._weights = self._reason.calibrated_classifiers_[0].estimator.coef_
        self._names = np.asarray(self._chars.get_feature_names_out())
        self.size = len(examples)

    def classify(self, text: str) -> Classification:
        view = folded(text)
        row = self._chars.transform([view])
        reason_p = _probabilities(self._reason, row)
        best = int(np.argmax(reason_p))
        urgent_row = sparse.hstack([row, escalation_cues([view])]).tocsr()
        urgent_p = float(_probabilities(self._urgent, urgent_row)[list(self._urgent.classes_).index(True)])
        language_p = _probabilities(self._language, self._language_chars.transform([accented(text)]))
        language_best = int(np.argmax(language_p))
        return Classification(
            reason=str(self._reason.classes_[best]),
            urgent=urgent_p >= 0.5,
            language=str(self._language.classes_[language_best]),
            confidence=float(reason_p[best]),
            urgent_probability=urgent_p,
            language_confidence=float(language_p[language_best]),
            because=self._because(view, row, best),
        )

    def _because(self, view: str, row: sparse.csr_matrix, class_index: int, top: int = 5) -> tuple[str, ...]:
        """The message's own words that carry the most weight towards the answer: each n-gram's
        contribution (tf-idf value × the class's weight) is credited to the word it lies in."""
        contributions = row.multiply(self._weights[class_index]).tocsr()
        words = [w for w in re.findall(r"\w+", view) if len(w) >= 3]
        scores: dict[str, float] = {}
        for i in np.argsort(-contributions.data)[:40]:
            if contributions.data[i] <= 0:
                break
            gram = self._names[contributions.indices[i]].strip()
            owner = next((w for w in words if gram in w), None) if len(gram) >= 2 else None
            if owner is not None:
                scores[owner] = scores.get(owner, 0.0) + float(contributions.data[i])
        return tuple(sorted(scores, key=lambda w: -scores[w])[:top])


def shipped_examples(examples: Sequence[dataset.Example]) -> list[LabelledText]:
    return [LabelledText(e.text, e.reason, e.urgent) for e in examples]


def train(
    examples: Sequence[dataset.Example] | None = None, corrections: Sequence[LabelledText] = ()
) -> ComplaintModel:
    """A model from the shipped set (all of it unless `examples` says which part) and a shop's
    corrections."""
    chosen = list(examples) if examples is not None else list(dataset.load())
    return ComplaintModel(
        shipped_examples(chosen) + [LabelledText(c.text, c.reason, c.urgent, CORRECTION_WEIGHT) for c in corrections],
        [(e.text, e.language) for e in chosen],
    )


_base: ComplaintModel | None = None


def base_model() -> ComplaintModel:
    """The model every shop starts from, trained once per process on first use."""
    global _base
    if _base is None:
        _base = train()
    return _base
