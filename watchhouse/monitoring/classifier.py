"""The relevance classifier: scores public posts for emergency relevance, and (where trained on
several labels) puts them in a category.

Two scorers share one interface (``Scorer``): the built-in ``lexicon.LexiconScorer``, shipped
by default, and a ``TrainedModel`` an agency trains on its own labelled posts with
``watchhouse monitoring train --labels FILE``. ``scorer_load()`` returns the trained model when
its file exists, else the lexicon.

The trained model is a linear model over hashed features, so it is fast (thousands of posts a
second on one core) and its file holds only numbers: an ``.npz`` of numpy arrays plus its
parameters as JSON, read with ``allow_pickle=False`` (a model file cannot run code).

Features: word 1-2-grams and character 2-5-grams (within words) of the post, after URLs,
@mentions and numbers become placeholder tokens, hashed into a fixed number of columns. The
words also get tokens for the post's shape (length, hashtags, links, "!" and "?", retweet)
and, for each word of the shared crisis vocabulary (``concepts``), its concept's token;
sublinear term frequency, tf-idf weights learnt in training, L2 normalisation. When the
labelled posts name their events, a feature seen in fewer than ``EVENT_SPREAD`` events gets
no weight: it names one event (its town, its hashtag) and teaches nothing about the next.

Classifier (one-vs-rest for several labels): the features are scaled by their naive Bayes
log-count ratio (NBSVM, Wang and Manning 2012); one linear SVM learns from the word
features and one from the character features, and their decision values, each divided by
its spread over the training posts, are added. All of that folds into one weight per
column, so scoring stays one sparse product. Platt's sigmoid, fitted on out-of-fold
decisions, turns the decision value into a probability.

What the score means:

- trained with ``--positive`` (relevant vs not): P(relevant);
- trained on several labels, one of which names the irrelevant class ("not relevant",
  "not related", "irrelevant", "none", ...): 1 - P(that class);
- trained on several labels with no such class: the probability of the most likely label.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import os
import re
import statistics
import tempfile
import threading
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.concepts import concept_tokens
from watchhouse.monitoring.lexicon import LexiconScorer

logger = logging.getLogger(__name__)

FORMAT = "watchhouse-monitoring-linear"
FORMAT_VERSION = 2
# Hashed columns per feature family (words, characters). 2**19 each keeps collisions rare for
# a few hundred thousand distinct n-grams while the model file stays a few MB compressed.
N_FEATURES = 2**19
# Inverse regularisation strength of the SVM for label sets of at least C_FIXED_POSTS posts,
# chosen once for all events on CrisisLex T26 leave-one-event-out (see
# bench/monitoring_classifier.py), never per held-out event; at that size it barely matters
# (0.2, 0.5 and 1 came within 0.003 of each other). A smaller label set underfits at 0.5, so
# its C is chosen by 3-fold cross-validation from C_CHOICES (cheap at that size).
C = 0.5
C_FIXED_POSTS = 10_000
C_CHOICES = (0.5, 2.0, 8.0)
CV_FOLDS = 5
# A feature must occur in posts of at least this many labelled events to get a weight (when
# the posts name their events, and there are more events than this).
EVENT_SPREAD = 3
# Additive smoothing of the naive Bayes log-count ratio.
NB_ALPHA = 1.0
# Label names that mean "not relevant" in a multiclass label set (compared folded).
IRRELEVANT_LABELS = frozenset(
    {
        "not relevant",
        "not related",
        "irrelevant",
        "unrelated",
        "not informative",
        "none",
        "no",
        "0",
        "no relevante",
        "no relacionado",
    }
)
RELEVANT = "relevant"
NOT_RELEVANT = "not relevant"


class Scorer(Protocol):
    """What the stream asks of a classifier."""

    name: str

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """Emergency relevance of each (normalised) post, 0..1, in order."""
        ...

    def categorise_many(self, texts: Sequence[str]) -> list[str]:
        """The category of each post, or "" where the scorer has no categories."""
        ...


# -- Labelled posts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSet:
    """Labelled posts: ``texts[i]`` has label ``labels[i]`` (and event ``events[i]``)."""

    texts: list[str]
    labels: list[str]
    events: list[str] | None = None

    def counts(self) -> dict[str, int]:
        """How many posts carry each label, most common first."""
        return dict(Counter(self.labels).most_common())


def _rows_csv(handle: IO[str], path: Path) -> tuple[list[str], Iterable[dict[str, str]]]:
    reader = csv.reader(handle)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InvalidInputError(_("%(path)s is empty.") % {"path": path}) from None
    except csv.Error as exc:
        raise InvalidInputError(
            _("%(path)s is not a readable CSV file: %(error)s") % {"path": path, "error": exc}
        ) from exc

    def rows() -> Iterable[dict[str, str]]:
        try:
            for row in reader:
                if row:
                    yield dict(zip(header, row, strict=False))
        except csv.Error as exc:
            raise InvalidInputError(
                _("%(path)s line %(line)d: %(error)s")
                % {"path": path, "line": reader.line_num, "error": exc}
            ) from exc

    return header, rows()


def _rows_jsonl(handle: IO[str], path: Path) -> tuple[list[str], list[dict[str, str]]]:
    rows: list[dict[str, str]] = []
    keys: dict[str, None] = {}
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                _("%(path)s line %(line)d is not JSON: %(error)s")
                % {"path": path, "line": number, "error": exc.msg}
            ) from exc
        if not isinstance(record, dict):
            raise InvalidInputError(
                _("%(path)s line %(line)d is not a JSON object.") % {"path": path, "line": number}
            )
        keys.update(dict.fromkeys(str(k) for k in record))
        rows.append({str(k): "" if v is None else str(v) for k, v in record.items()})
    if not rows:
        raise InvalidInputError(_("%(path)s is empty.") % {"path": path})
    return list(keys), rows


def labels_read(
    path: Path | str,
    *,
    text_column: str = "text",
    label_column: str = "label",
    event_column: str = "event",
    positive: str = "",
) -> LabelSet:
    """Read labelled posts from a CSV file (with a header row) or a JSONL file.

    Column names are compared without surrounding spaces. ``events`` is filled when the file
    has ``event_column``. ``positive`` (one label value, or several comma-separated) turns the
    labels into "relevant" / "not relevant". Rows with an empty text or label are skipped.
    Raises ``InvalidInputError`` naming the file or column when the file is empty, a column is
    missing, or fewer than two labels remain.
    """
    path = Path(path)
    # Files exported from spreadsheets and old crawls carry stray bytes; a replaced character
    # costs one feature, a refused file costs the whole training run.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        if not first:
            raise InvalidInputError(_("%(path)s is empty.") % {"path": path})
        jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or first == "{"
        header, rows = _rows_jsonl(handle, path) if jsonl else _rows_csv(handle, path)
        for column in (text_column, label_column):
            if column not in header:
                raise InvalidInputError(
                    _("%(path)s has no column %(column)r (it has: %(columns)s).")
                    % {"path": path, "column": column, "columns": ", ".join(header)}
                )
        with_events = bool(event_column) and event_column in header
        positives = {p.strip().casefold() for p in positive.split(",") if p.strip()}
        texts: list[str] = []
        labels: list[str] = []
        events: list[str] = []
        for row in rows:
            text = (row.get(text_column) or "").strip()
            label = (row.get(label_column) or "").strip()
            if not text or not label:
                continue
            if positives:
                label = RELEVANT if label.casefold() in positives else NOT_RELEVANT
            texts.append(text)
            labels.append(label)
            if with_events:
                events.append((row.get(event_column) or "").strip())
    if not texts:
        raise InvalidInputError(
            _("%(path)s has no rows with both a text and a label.") % {"path": path}
        )
    found = set(labels)
    if len(found) < 2:
        if positives and found == {NOT_RELEVANT}:
            raise InvalidInputError(
                _("No row of %(path)s has the label %(positive)s in column %(column)r.")
                % {"path": path, "positive": positive, "column": label_column}
            )
        raise InvalidInputError(
            _("%(path)s has only one label (%(label)s) in column %(column)r; training needs two.")
            % {"path": path, "label": next(iter(found)), "column": label_column}
        )
    return LabelSet(texts=texts, labels=labels, events=events if with_events else None)


# -- Features ---------------------------------------------------------------------------------

# A word, keeping a leading # or @ (a hashtag and a word are different signals).
WORD = r"(?u)[#@]?\b\w+\b"
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_HASHTAG = re.compile(r"#\w+")


def _shape_tokens(text: str) -> list[str]:
    """Tokens for the shape of a (casefolded) post, in no language: its length in words (in
    fives), its hashtags and links (counted up to 3 and 2), whether it asks or exclaims, and
    whether it is a retweet. A report with a link and hashtags looks the same in any
    language; its words do not."""
    tokens = [
        f"zzlen{min(len(text.split()) // 5, 6)}",
        f"zzhash{min(len(_HASHTAG.findall(text)), 3)}",
        f"zzurl{min(text.count('http'), 2)}",
    ]
    if "!" in text:
        tokens.append("zzexcl")
    if "?" in text:
        tokens.append("zzques")
    if text.startswith("rt "):
        tokens.append("zzrt")
    return tokens


def _prepare(text: str) -> tuple[str, str]:
    """The text the character n-grams are taken from, and the same followed by the shape
    and concept tokens, for the words (spelling the tokens out in characters would only
    repeat them, at a quarter of the scoring speed)."""
    # Applied in training and scoring alike, so a model sees the same text either way whether
    # or not the stream normalised it first. URLs, handles and numbers differ in every event;
    # their presence carries over to the next one, their spelling does not.
    text = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    shape = _shape_tokens(text)
    text = _URL.sub(" httpurl ", text)
    text = _MENTION.sub(" @user ", text)
    text = _NUMBER.sub(" 0 ", text)
    return text, " ".join([text, *shape, *concept_tokens(text)])


def _vectorizers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]

    common: dict[str, Any] = {
        "n_features": N_FEATURES,
        "alternate_sign": False,
        "norm": None,
        "lowercase": False,
        "dtype": np.float32,
    }
    words = HashingVectorizer(ngram_range=(1, 2), token_pattern=WORD, **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)
    return words, chars


def _counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Hashed, sublinear term frequencies of ``texts`` (no idf yet, not normalised)."""
    prepared = [_prepare(text) for text in texts]
    words, chars = _vectorizers()
    matrix = sp.hstack(
        [words.transform([p[1] for p in prepared]), chars.transform([p[0] for p in prepared])],
        format="csr",
    )
    np.log(matrix.data, out=matrix.data)
    matrix.data += 1
    return matrix


def _idf(counts: sp.csr_matrix, events: np.ndarray | None = None) -> np.ndarray:
    """Smoothed inverse document frequency of each column; 0 for a column seen in fewer than
    ``EVENT_SPREAD`` of ``events`` (one per post) when there are more events than that."""
    documents = counts.shape[0]
    frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1 + documents) / (1 + frequency)) + 1).astype(np.float32)
    if events is not None and len(set(events.tolist())) > EVENT_SPREAD:
        spread = np.zeros(counts.shape[1], dtype=np.int32)
        for event in set(events.tolist()):
            rows = counts[events == event]
            spread += np.bincount(rows.indices, minlength=counts.shape[1]) > 0
        idf[spread < EVENT_SPREAD] = 0
    return idf


def _weighted(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    matrix = counts.copy()
    matrix.data *= idf[matrix.indices]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    matrix.data /= np.repeat(norms, np.diff(matrix.indptr)).astype(np.float32)
    return matrix


# -- The trained model ------------------------------------------------------------------------


def _irrelevant_index(classes: Sequence[str]) -> int | None:
    for index, name in enumerate(classes):
        if " ".join(name.casefold().replace("_", " ").replace("-", " ").split()) in (
            IRRELEVANT_LABELS
        ):
            return index
    return None


@dataclass
class TrainedModel:
    """A linear model over hashed tf-idf features. ``coef`` has one row per class (one row
    for two classes: the log-odds of ``classes[1]``)."""

    classes: list[str]
    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    platt: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    name: str = "trained"

    @property
    def binary_relevance(self) -> bool:
        """Trained relevant-vs-not (``--positive``)."""
        return sorted(self.classes) == sorted([RELEVANT, NOT_RELEVANT])

    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        features = _weighted(_counts(texts), self.idf)
        decision = np.asarray(features @ self.coef.T) + self.intercept
        sigmoid = 1 / (1 + np.exp(-(decision * self.platt[:, 0] + self.platt[:, 1])))
        if len(self.classes) == 2:
            return np.column_stack([1 - sigmoid[:, 0], sigmoid[:, 0]])
        # One-vs-rest sigmoids need not sum to one; scale them so they do.
        total = sigmoid.sum(axis=1, keepdims=True)
        total[total == 0] = 1
        return sigmoid / total

    def predict_many(self, texts: Sequence[str]) -> list[str]:
        """The most likely label of each post."""
        if not texts:
            return []
        best = self._probabilities(texts).argmax(axis=1)
        return [self.classes[i] for i in best]

    def score_many(self, texts: Sequence[str]) -> list[float]:
        """Emergency relevance of each post, 0..1 (see the module's docstring)."""
        if not texts:
            return []
        probabilities = self._probabilities(texts)
        if self.binary_relevance:
            scores = probabilities[:, self.classes.index(RELEVANT)]
        elif (irrelevant := _irrelevant_index(self.classes)) is not None:
            scores = 1 - probabilities[:, irrelevant]
        else:
            scores = probabilities.max(axis=1)
        return [float(s) for s in scores]

    def categorise_many(self, texts: Sequence[str]) -> list[str]:
        """The most likely label of each post for a multiclass model, else "" for each."""
        if self.binary_relevance:
            return ["" for _ in texts]
        return self.predict_many(texts)

    def save(self, path: Path | str) -> Path:
        """Write the model to ``path`` (an ``.npz``) atomically: a reader sees the old file
        or the new one, never half of one. Creates the parent folders."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "classes": self.classes,
            "n_features": N_FEATURES,
            **self.params,
        }
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".model-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez_compressed(
                    out,
                    meta=np.array(json.dumps(meta)),
                    idf=self.idf,
                    coef=self.coef.astype(np.float32),
                    intercept=self.intercept.astype(np.float64),
                    platt=self.platt.astype(np.float64),
                )
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path


def model_load(path: Path | str) -> TrainedModel:
    """Read a model written by ``TrainedModel.save``. Never unpickles anything. Raises
    ``InvalidInputError`` when the file is not such a model."""
    path = Path(path)
    try:
        # Opened here, not by numpy, so a damaged file is closed when numpy gives up on it.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            idf, coef = data["idf"], data["coef"]
            intercept, platt = data["intercept"], data["platt"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(
            _("%(path)s is not a Watchhouse monitoring model: %(error)s")
            % {"path": path, "error": exc}
        ) from exc
    if meta.get("format") != FORMAT:
        raise InvalidInputError(
            _("%(path)s is not a Watchhouse monitoring model of version %(version)d.")
            % {"path": path, "version": FORMAT_VERSION}
        )
    if meta.get("version") != FORMAT_VERSION:
        # Its features are not the ones this version computes: its weights would score noise.
        raise InvalidInputError(
            _("%(path)s was trained by another version of Watchhouse; train it again.")
            % {"path": path}
        )
    if meta.get("n_features") != N_FEATURES or idf.shape != (2 * N_FEATURES,):
        raise InvalidInputError(
            _("%(path)s was trained with other features; train it again.") % {"path": path}
        )
    classes = [str(c) for c in meta.pop("classes")]
    return TrainedModel(
        classes=classes,
        idf=idf,
        coef=coef,
        intercept=intercept,
        platt=platt,
        params=meta,
        name=f"trained:{path.name}",
    )


def _platt(decision: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid: ``a``, ``b`` with P(positive) = 1 / (1 + exp(-(a * decision + b)))."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    if positive.all() or not positive.any():
        return 1.0, 0.0
    sigmoid = LogisticRegression(C=1e4).fit(decision.reshape(-1, 1), positive)
    return float(sigmoid.coef_[0, 0]), float(sigmoid.intercept_[0])


def _svm(weighted: sp.csr_matrix, target: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """One target against the rest: the weight per column and the intercept of the NBSVM
    word and character SVMs, folded into one linear function (see the module's docstring)."""
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

    positive = np.asarray(weighted[target].sum(axis=0)).ravel() + NB_ALPHA
    negative = np.asarray(weighted[~target].sum(axis=0)).ravel() + NB_ALPHA
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)
    scaled = weighted.copy()
    scaled.data *= ratio[scaled.indices]
    coef = np.zeros(weighted.shape[1], dtype=np.float64)
    intercept = 0.0
    for family in (slice(0, N_FEATURES), slice(N_FEATURES, 2 * N_FEATURES)):
        part = scaled[:, family]
        svm = LinearSVC(C=c, random_state=0).fit(part, target)
        spread = float(svm.decision_function(part).std()) or 1.0
        coef[family] = svm.coef_[0] / spread
        intercept += float(svm.intercept_[0]) / spread
    return (coef * ratio).astype(np.float32), intercept


def _linear(
    weighted: sp.csr_matrix, y: np.ndarray, classes: Sequence[str], c: float
) -> tuple[Any, Any]:
    """Weights (one row per target: ``classes[1]`` for two classes, else each class) and
    intercepts."""
    targets = [classes[1]] if len(classes) == 2 else list(classes)
    rows = [_svm(weighted, y == target, c) for target in targets]
    return np.vstack([r[0] for r in rows]), np.array([r[1] for r in rows])


def _labels_of(decision: np.ndarray, classes: Sequence[str]) -> list[str]:
    best = (decision[:, 0] > 0).astype(int) if len(classes) == 2 else decision.argmax(axis=1)
    return [classes[i] for i in best]


def _folds(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to 3 stratified folds (none when a label has a single post)."""
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    splits = min(3, *Counter(y.tolist()).values())
    if splits < 2:
        return []
    folds = StratifiedKFold(n_splits=splits, shuffle=True, random_state=0)
    return list(folds.split(np.zeros(len(y)), y))


def _choose_c(
    weighted: sp.csr_matrix,
    y: np.ndarray,
    classes: Sequence[str],
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> float:
    """``C`` for a large label set; for a small one, the choice with the best cross-validated
    macro-F1 over ``folds`` (the smallest on a tie)."""
    if len(y) >= C_FIXED_POSTS or not folds:
        return C
    best, best_f1 = C, -1.0
    for c in C_CHOICES:
        guesses = np.empty(len(y), dtype=object)
        for train, test in folds:
            coef, intercept = _linear(weighted[train], y[train], classes, c)
            guesses[test] = _labels_of(np.asarray(weighted[test] @ coef.T) + intercept, classes)
        f1 = _macro_f1(y.tolist(), guesses.tolist())
        if f1 > best_f1:
            best, best_f1 = c, f1
    return best


def _fit(
    counts: sp.csr_matrix,
    labels: Sequence[str],
    *,
    events: Sequence[str] | None = None,
    calibrate: bool,
) -> TrainedModel:
    """The NBSVM on ``counts`` (``events``, one per post, drop features of too few events);
    with ``calibrate``, also the sigmoids that turn its decision values into probabilities,
    fitted on 3-fold out-of-fold decisions so they are not as sure of themselves as the
    training posts would make them."""
    y = np.asarray(labels)
    classes = sorted({str(label) for label in labels})
    idf = _idf(counts, None if events is None else np.asarray(events))
    weighted = _weighted(counts, idf)
    folds = _folds(y)
    c = _choose_c(weighted, y, classes, folds)
    coef, intercept = _linear(weighted, y, classes, c)
    platt = np.tile([1.0, 0.0], (coef.shape[0], 1))
    if calibrate:
        decision = np.zeros((len(y), coef.shape[0]))
        if folds:
            for train, test in folds:
                part, part_intercept = _linear(weighted[train], y[train], classes, c)
                decision[test] = np.asarray(weighted[test] @ part.T) + part_intercept
        else:
            decision = np.asarray(weighted @ coef.T) + intercept
        # One decision column for two classes (the second class's side), else one per class.
        targets = [classes[1]] if coef.shape[0] == 1 else classes
        for row, target in enumerate(targets):
            platt[row] = _platt(decision[:, row], y == target)
    return TrainedModel(
        classes=classes,
        idf=idf,
        coef=coef,
        intercept=intercept.astype(np.float64),
        platt=platt,
        params={"C": c},
    )


def model_train(labels: LabelSet) -> TrainedModel:
    """Train a model on every labelled post. Relevance-vs-not when the labels are
    "relevant"/"not relevant" (``labels_read(positive=...)``), else one class per label."""
    model = _fit(_counts(labels.texts), labels.labels, events=labels.events, calibrate=True)
    model.params = {
        "trained_at": timezone.now().isoformat(),
        "posts": len(labels.texts),
        "counts": labels.counts(),
        **model.params,
    }
    return model


# -- Loading the live scorer ------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"key": None, "scorer": None}


def scorer_load() -> Scorer:
    """The live scorer: the model at ``WATCHHOUSE_MONITORING_MODEL`` when that file exists,
    else the built-in lexicon. Cached until the file's path, modification time or size
    changes; safe to call from several threads. A model file that cannot be read is logged
    and the lexicon used instead: the stream keeps scoring, and an analyst still reviews
    every match."""
    path = Path(settings.WATCHHOUSE_MONITORING_MODEL)
    try:
        stat = path.stat()
        key: tuple[Any, ...] = (str(path), stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        key = (str(path), None, None)
    with _cache_lock:
        if _cache["key"] == key and _cache["scorer"] is not None:
            scorer: Scorer = _cache["scorer"]
            return scorer
        scorer = LexiconScorer()
        if key[1] is not None:
            try:
                scorer = model_load(path)
            except InvalidInputError:
                logger.exception("Scoring with the lexicon: the model file is unreadable")
        _cache["key"], _cache["scorer"] = key, scorer
        return scorer


# -- Evaluation -------------------------------------------------------------------------------


@dataclass
class ClassFigures:
    """Precision, recall and F1 of one label, and how many posts carry it."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EventFigures:
    """Leave-one-event-out: the model trained on the other events, tested on this one."""

    event: str
    posts: int
    macro_f1: float


@dataclass
class EvaluationReport:
    """What ``model_evaluate`` measured."""

    posts: int
    counts: dict[str, int]
    folds: int
    classes: list[ClassFigures]
    macro_f1: float
    events: list[EventFigures] = field(default_factory=list)
    events_macro_f1_mean: float | None = None
    events_macro_f1_pooled: float | None = None
    events_classes: list[ClassFigures] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready data."""
        return {
            "posts": self.posts,
            "counts": self.counts,
            "cross_validation": {
                "folds": self.folds,
                "classes": [vars(c) for c in self.classes],
                "macro_f1": self.macro_f1,
            },
            "leave_one_event_out": None
            if not self.events
            else {
                "events": [vars(e) for e in self.events],
                "macro_f1_mean": self.events_macro_f1_mean,
                "macro_f1_pooled": self.events_macro_f1_pooled,
                "classes": [vars(c) for c in self.events_classes],
            },
        }

    def as_text(self) -> str:
        """A readable report: per-class figures, macro-F1, and one line per held-out event."""
        width = max(
            [len(c.label) for c in self.classes] + [len(e.event) for e in self.events] + [5]
        )
        lines = [
            _("%(posts)d labelled posts: %(counts)s")
            % {
                "posts": self.posts,
                "counts": ", ".join(f"{k} {v}" for k, v in self.counts.items()),
            },
            "",
            _("Stratified %(folds)d-fold cross-validation") % {"folds": self.folds},
        ]
        lines += _class_table(self.classes, width)
        lines.append(f"{_('macro-F1'):<{width}}  {self.macro_f1:.3f}")
        if self.events:
            lines += ["", _("Leave one event out (trained on the other events)")]
            lines.append(f"{_('event'):<{width}}  {_('posts'):>6}  {_('macro-F1'):>8}")
            lines += [f"{e.event:<{width}}  {e.posts:>6}  {e.macro_f1:>8.3f}" for e in self.events]
            lines.append(
                f"{_('macro-F1, mean across events'):<{width}}  {self.events_macro_f1_mean:.3f}"
            )
            lines.append(
                f"{_('macro-F1, all events pooled'):<{width}}  {self.events_macro_f1_pooled:.3f}"
            )
            lines += _class_table(self.events_classes, width)
        return "\n".join(lines) + "\n"


def _class_table(figures: Sequence[ClassFigures], width: int) -> list[str]:
    head = (
        f"{_('label'):<{width}}  {_('precision'):>9}  {_('recall'):>6}  {_('F1'):>5}  "
        f"{_('posts'):>6}"
    )
    return [head] + [
        f"{c.label:<{width}}  {c.precision:>9.3f}  {c.recall:>6.3f}  {c.f1:>5.3f}  {c.support:>6}"
        for c in figures
    ]


def _class_figures(
    truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]
) -> tuple[list[ClassFigures], float]:
    from sklearn.metrics import precision_recall_fscore_support  # type: ignore[import-untyped]

    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(classes), zero_division=0
    )
    figures = [
        ClassFigures(str(label), float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    ]
    return figures, float(np.mean(f1))


def _macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, average="macro", zero_division=0))


def _predict(model: TrainedModel, counts: sp.csr_matrix) -> list[str]:
    features = _weighted(counts, model.idf)
    return _labels_of(np.asarray(features @ model.coef.T) + model.intercept, model.classes)


def model_evaluate(labels: LabelSet, *, folds: int = CV_FOLDS) -> EvaluationReport:
    """Measure how well a model trained like ``model_train`` labels posts it has not seen.

    Stratified ``folds``-fold cross-validation gives per-class precision, recall, F1 and
    macro-F1. When the posts carry events (two or more), each event in turn is held out: a
    model trained on all the other events labels it, giving that event's macro-F1, their mean
    across events, and the macro-F1 of all held-out predictions pooled. Nothing is tuned on
    a held-out event.
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels.labels)
    classes = sorted(set(labels.labels))
    smallest = min(Counter(labels.labels).values())
    folds = max(2, min(folds, smallest))
    if smallest < 2:
        raise InvalidInputError(
            _("Every label needs at least two posts to evaluate; %(label)s has one.")
            % {"label": min(Counter(labels.labels), key=Counter(labels.labels).__getitem__)}
        )
    counts = _counts(labels.texts)
    events = None if labels.events is None else np.asarray(labels.events)
    predicted = np.empty(len(y), dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(np.zeros(len(y)), y):
        model = _fit(
            counts[train],
            y[train].tolist(),
            events=None if events is None else events[train],
            calibrate=False,
        )
        predicted[test] = _predict(model, counts[test])
    class_figures, macro = _class_figures(y.tolist(), predicted.tolist(), classes)
    report = EvaluationReport(
        posts=len(y),
        counts=labels.counts(),
        folds=folds,
        classes=class_figures,
        macro_f1=macro,
    )
    if events is None or len(set(events.tolist())) < 2:
        return report
    held_out = np.zeros(len(y), dtype=bool)
    pooled = np.empty(len(y), dtype=object)
    for event in sorted(set(events.tolist())):
        test = events == event
        train = ~test
        if len(set(y[train].tolist())) < 2:
            continue
        model = _fit(counts[train], y[train].tolist(), events=events[train], calibrate=False)
        guesses = _predict(model, counts[test])
        pooled[test] = guesses
        held_out |= test
        report.events.append(
            EventFigures(event, int(test.sum()), _macro_f1(y[test].tolist(), guesses))
        )
    if report.events:
        report.events_macro_f1_mean = statistics.fmean(e.macro_f1 for e in report.events)
        report.events_macro_f1_pooled = _macro_f1(y[held_out].tolist(), pooled[held_out].tolist())
        report.events_classes, _unused = _class_figures(
            y[held_out].tolist(), pooled[held_out].tolist(), classes
        )
    return report


# -- The management command -------------------------------------------------------------------


def _labels_from(opts: dict[str, Any]) -> LabelSet:
    path = Path(opts["labels"])
    if not path.is_file():
        raise InvalidInputError(_("No such file: %(path)s") % {"path": path})
    return labels_read(
        path,
        text_column=opts.get("text_column") or "text",
        label_column=opts.get("label_column") or "label",
        event_column=opts.get("event_column") or "",
        positive=opts.get("positive") or "",
    )


def command(what: str, opts: dict[str, Any], stdout: IO[str] | Any) -> None:
    """``watchhouse monitoring train|evaluate``. Bad input raises ``InvalidInputError``."""
    labels = _labels_from(opts)
    if what == "train":
        model = model_train(labels)
        target = Path(opts.get("output") or settings.WATCHHOUSE_MONITORING_MODEL)
        model.save(target)
        stdout.write(
            _("Trained on %(posts)d posts: %(counts)s")
            % {
                "posts": len(labels.texts),
                "counts": ", ".join(f"{k} {v}" for k, v in labels.counts().items()),
            }
        )
        stdout.write(_("Classes: %(classes)s") % {"classes": ", ".join(model.classes)})
        stdout.write(_("Wrote %(path)s") % {"path": target})
    elif what == "evaluate":
        report = model_evaluate(labels)
        if opts.get("json"):
            stdout.write(json.dumps(report.as_dict()))
        else:
            stdout.write(report.as_text())
    else:
        raise InvalidInputError(_("Unknown classifier command %(what)r.") % {"what": what})


__all__ = [
    "EvaluationReport",
    "LabelSet",
    "Scorer",
    "TrainedModel",
    "command",
    "labels_read",
    "model_evaluate",
    "model_load",
    "model_train",
    "scorer_load",
]
