"""Classifier figures: CrisisLex T26 informativeness, leave one event out, and scoring speed.

Reads the 26 events of ``../shared/data/crisis/crisislex-t26`` (research-only data: read in
place, never copied into the repository, never shipped in a model) into one labelled CSV in a
temporary folder (text, label, event). A post is relevant when its Informativeness is
"Related and informative"; every other value ("Related - but not informative", "Not
related", "Not applicable") is not relevant.

- ``model_evaluate`` (as ``watchhouse monitoring evaluate --positive "Related and
  informative"`` does): stratified 5-fold macro-F1, and leave-one-event-out: for each event a
  model trained on the other 25 labels it; the mean of the 26 per-event macro-F1 figures
  (target ≥ 0.80) and the macro-F1 of all held-out predictions pooled.
- The built-in lexicon's macro-F1 on the same posts (score ≥ 0.5 means relevant), the
  baseline an agency has before it trains.
- Scoring speed: a model trained on all of T26 scores every post with ``score_many`` in
  batches of 500, on one core (BLAS threads limited to 1); median of 3 runs, posts per second
  (target ≥ 2,000). The lexicon's speed beside it.

``bench_figures()`` returns the figures as a dict (``bench/monitoring.py`` includes them);
run standalone, from the repository root: ``python bench/monitoring_classifier.py`` prints
one JSON line and exits 1 when a target is missed.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHHOUSE_SHARED_DATA", REPO.parent / "shared" / "data"))
T26 = SHARED / "crisis" / "crisislex-t26"
POSITIVE = "Related and informative"
TARGET_MACRO_F1 = 0.80
TARGET_POSTS_PER_S = 2000
BATCH = 500
REPEATS = 3


def t26_write(destination: Path, events: Sequence[str] | None = None) -> int:
    """Write the T26 events (all, or the named ones) to ``destination`` as one CSV of text,
    label and event. Returns the number of posts written."""
    written = 0
    with destination.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label", "event"])
        for folder in sorted(p for p in T26.iterdir() if p.is_dir()):
            if events is not None and folder.name not in events:
                continue
            source = folder / f"{folder.name}-tweets_labeled.csv"
            with source.open(encoding="utf-8", errors="replace", newline="") as handle:
                reader = csv.reader(handle)
                header = [name.strip() for name in next(reader)]
                text, label = header.index("Tweet Text"), header.index("Informativeness")
                for row in reader:
                    writer.writerow([row[text], row[label].strip(), folder.name])
                    written += 1
    return written


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
    import django

    django.setup()


def _rate(score: Any, texts: list[str]) -> float:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    runs = []
    with threadpool_limits(1):
        for _ in range(REPEATS):
            started = time.perf_counter()
            for start in range(0, len(texts), BATCH):
                score(texts[start : start + BATCH])
            runs.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(runs)


def bench_figures() -> dict[str, Any]:
    """Measure the classifier on CrisisLex T26 (see the module's docstring)."""
    if not T26.is_dir():
        return {"skipped": f"{T26} is missing"}
    _django()
    from sklearn.metrics import f1_score  # type: ignore[import-untyped]

    from watchhouse.monitoring.classifier import (
        RELEVANT,
        labels_read,
        model_evaluate,
        model_train,
    )
    from watchhouse.monitoring.lexicon import LexiconScorer

    with tempfile.TemporaryDirectory(prefix="wh-classifier-") as folder:
        path = Path(folder) / "t26.csv"
        t26_write(path)
        labels = labels_read(path, positive=POSITIVE)
    started = time.perf_counter()
    report = model_evaluate(labels)
    evaluate_s = time.perf_counter() - started
    model = model_train(labels)
    lexicon = LexiconScorer()
    lexicon_guess = [
        RELEVANT if s >= 0.5 else "not relevant" for s in lexicon.score_many(labels.texts)
    ]
    figures = {
        "posts": len(labels.texts),
        "events": len(report.events),
        "relevant_share": round(labels.labels.count(RELEVANT) / len(labels.labels), 3),
        "cv_macro_f1": round(report.macro_f1, 4),
        "loeo_macro_f1_mean": round(report.events_macro_f1_mean or 0, 4),
        "loeo_macro_f1_pooled": round(report.events_macro_f1_pooled or 0, 4),
        "loeo_macro_f1_min": round(min(e.macro_f1 for e in report.events), 4),
        "lexicon_macro_f1": round(
            float(f1_score(labels.labels, lexicon_guess, average="macro")), 4
        ),
        "evaluate_s": round(evaluate_s, 1),
        "score_posts_per_s_one_core": round(_rate(model.score_many, labels.texts)),
        "lexicon_posts_per_s_one_core": round(_rate(lexicon.score_many, labels.texts)),
    }
    figures["targets_met"] = (
        figures["loeo_macro_f1_mean"] >= TARGET_MACRO_F1
        and figures["score_posts_per_s_one_core"] >= TARGET_POSTS_PER_S
    )
    return figures


def main() -> int:
    figures = bench_figures()
    print(json.dumps(figures))  # noqa: T201
    return 0 if figures.get("targets_met") else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
