"""The classifier's figures on the shipped set, as shown to the merchant and asserted by the tests.

- per language: macro-F1 of the reason, F1 of urgency and accuracy of the language, for a model
  trained on the training part and scored on the held-out part (one message in four, by hash);
- mixed-language messages: accuracy of the reason on the held-out mixed messages, and on every
  mixed message for a model trained on single-language messages only (none of the mixed ones).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from sklearn.metrics import accuracy_score, f1_score

from app.insights import classifier, dataset


@dataclass
class LanguageScores:
    language: str
    messages: int
    reason_macro_f1: float
    urgent_f1: float
    language_accuracy: float


@dataclass
class Evaluation:
    training_messages: int
    held_out_messages: int
    languages: list[LanguageScores] = field(default_factory=list)
    mixed_held_out: int = 0
    mixed_held_out_accuracy: float = 0.0
    mixed_unseen: int = 0
    mixed_unseen_accuracy: float = 0.0
    ms_per_message: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate() -> Evaluation:
    examples = dataset.load()
    train, held_out = dataset.training_part(examples), dataset.held_out_part(examples)
    model = classifier.train(train)
    result = Evaluation(training_messages=len(train), held_out_messages=len(held_out))
    started = time.perf_counter()
    predicted = {id(e): model.classify(e.text) for e in held_out}
    result.ms_per_message = round((time.perf_counter() - started) * 1000 / max(1, len(held_out)), 3)
    for language in dataset.LANGUAGES:
        part = [e for e in held_out if e.language == language and not e.mixed]
        answers = [predicted[id(e)] for e in part]
        result.languages.append(LanguageScores(
            language=language, messages=len(part),
            reason_macro_f1=round(f1_score([e.reason for e in part], [a.reason for a in answers], average="macro"), 4),
            urgent_f1=round(f1_score([e.urgent for e in part], [a.urgent for a in answers], zero_division=0), 4),
            language_accuracy=round(accuracy_score([e.language for e in part], [a.language for a in answers]), 4),
        ))
    mixed = [e for e in held_out if e.mixed]
    result.mixed_held_out = len(mixed)
    result.mixed_held_out_accuracy = round(accuracy_score(
        [e.reason for e in mixed], [predicted[id(e)].reason for e in mixed]), 4) if mixed else 0.0
    single = classifier.train([e for e in train if not e.mixed])
    unseen = [e for e in examples if e.mixed]
    result.mixed_unseen = len(unseen)
    result.mixed_unseen_accuracy = round(accuracy_score(
        [e.reason for e in unseen], [single.classify(e.text).reason for e in unseen]), 4)
    return result
