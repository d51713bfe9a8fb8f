"""The relevance classifier: labelled files, training, the model file, the default lexicon,
and ``watchhouse monitoring train|evaluate`` on real CrisisLex T26 posts."""

from __future__ import annotations

import csv
import json
import threading
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.conftest import need
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring import classifier
from watchhouse.monitoring.classifier import (
    LabelSet,
    labels_read,
    model_evaluate,
    model_load,
    model_train,
    scorer_load,
)
from watchhouse.monitoring.lexicon import LexiconScorer

T26 = Path(settings.WATCHHOUSE_SHARED_DATA) / "crisis" / "crisislex-t26"
# Three events of different kinds (fire, flood, shooting) and 2,000-3,000 posts in all,
# so training and evaluating stay fast.
EVENTS = ("2012_Colorado_wildfires", "2013_Queensland_floods", "2013_LA_airport_shootings")
POSITIVE = "Related and informative"

EMERGENCIES = [
    "Shots fired outside the mall on 5th street, people running",
    "Huge fire at the warehouse, black smoke everywhere, firefighters on the way",
    "Gas leak on Elm Road, they are evacuating the school",
    "Building collapsed downtown, people trapped under the rubble",
    "Flash flood warning: river over the bridge, cars stranded",
    "Tiroteo en la plaza central, hay heridos",
    "Incendio en el edificio de la calle Mayor, evacuan a los vecinos",
    "Fuga de gas en el mercado, llamen al 911",
    "Se derrumbó un puente, hay personas atrapadas",
]
ORDINARY = [
    "Lovely sunny morning, off to get a coffee",
    "Anyone watching the game tonight?",
    "New recipe: lemon cake with blueberries",
    "This mixtape is fire",
    "Fire sale at the shoe shop this weekend",
    "Qué buen día para ir a la playa",
    "Me encanta esta canción nueva",
    "Mañana hay mercado en la plaza",
]


def write_csv(path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def toy_labels() -> LabelSet:
    """Obvious emergencies against obvious small talk, each written a few ways."""
    texts, labels = [], []
    for n in range(6):
        for text in EMERGENCIES:
            texts.append(f"{text} #{n}")
            labels.append("relevant")
        for text in ORDINARY:
            texts.append(f"{text} ({n})")
            labels.append("not relevant")
    return LabelSet(texts=texts, labels=labels)


@pytest.fixture
def t26_subset(tmp_path: Path) -> Path:
    """A CSV of text, label and event from three T26 events, read in place."""
    need(T26.is_dir(), f"CrisisLex T26 ({T26}) is not beside this checkout")
    rows = []
    for event in EVENTS:
        source = T26 / event / f"{event}-tweets_labeled.csv"
        with source.open(encoding="utf-8", errors="replace", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader)]
            text, label = header.index("Tweet Text"), header.index("Informativeness")
            rows += [(row[text], row[label].strip(), event) for row in reader]
    return write_csv(tmp_path / "t26.csv", rows, ("text", "label", "event"))


@pytest.fixture
def no_model(settings, tmp_path: Path) -> Path:
    path = tmp_path / "models" / "model.npz"
    settings.WATCHHOUSE_MONITORING_MODEL = path
    return path


# -- The lexicon ------------------------------------------------------------------------------


@pytest.mark.parametrize("emergency", EMERGENCIES)
def test_lexicon_scores_emergencies_above_small_talk(emergency: str) -> None:
    """Every obvious emergency, English or Spanish, outscores every piece of small talk."""
    lexicon = LexiconScorer()
    scores = lexicon.score_many([emergency, *ORDINARY])
    assert scores[0] >= 0.6, lexicon.matches(emergency)
    assert max(scores[1:]) < 0.3
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_lexicon_folds_accents_and_has_no_categories() -> None:
    """ "Explosión" and "EXPLOSION" are the same term; the lexicon puts posts in no category."""
    lexicon = LexiconScorer()
    accented, plain = lexicon.score_many(["Explosión en la refinería", "EXPLOSION at refinery"])
    assert accented == plain > 0.7
    assert lexicon.categorise_many(["fire", "coffee"]) == ["", ""]


# -- Labelled files ---------------------------------------------------------------------------


def test_labels_read_csv_with_spaced_header_bom_and_positive(tmp_path: Path) -> None:
    """Column names are matched without surrounding spaces, a BOM is ignored, and --positive
    turns the labels into relevant / not relevant."""
    path = tmp_path / "labels.csv"
    path.write_text(
        "\ufeffid, Tweet Text, Kind\n1,fire on main st,urgent\n2,nice day,chat\n3,flood,alarm\n",
        encoding="utf-8",
    )
    labels = labels_read(
        path, text_column="Tweet Text", label_column="Kind", positive="urgent, alarm"
    )
    assert labels.texts == ["fire on main st", "nice day", "flood"]
    assert labels.labels == ["relevant", "not relevant", "relevant"]
    assert labels.events is None


def test_labels_read_jsonl_with_events_and_odd_bytes(tmp_path: Path) -> None:
    """JSONL rows are read with their events; bytes that are not UTF-8 are replaced, not
    refused."""
    path = tmp_path / "labels.jsonl"
    path.write_bytes(
        b'{"text": "fire \xff here", "label": "fire", "event": "a"}\n\n'
        b'{"text": "flood", "label": "flood", "event": "b"}\n'
    )
    labels = labels_read(path)
    assert labels.texts == ["fire \ufffd here", "flood"]
    assert labels.labels == ["fire", "flood"]
    assert labels.events == ["a", "b"]


def test_labels_read_refuses_a_missing_column(tmp_path: Path) -> None:
    """The error names the missing column and lists those the file has."""
    path = write_csv(tmp_path / "l.csv", [("fire", "yes")], ("body", "label"))
    with pytest.raises(InvalidInputError, match=r"no column 'text' \(it has: body, label\)"):
        labels_read(path)


def test_labels_read_refuses_a_single_label(tmp_path: Path) -> None:
    """Training needs two labels; the error says which column had only one."""
    path = write_csv(tmp_path / "l.csv", [("fire", "yes"), ("flood", "yes")], ("text", "label"))
    with pytest.raises(InvalidInputError, match=r"only one label \(yes\) in column 'label'"):
        labels_read(path)
    with pytest.raises(InvalidInputError, match=r"No row .* has the label maybe"):
        labels_read(path, positive="maybe")


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_labels_read_refuses_an_empty_file(tmp_path: Path, name: str) -> None:
    """An empty file is named in the error."""
    path = tmp_path / name
    path.write_text("", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=rf"{name} is empty"):
        labels_read(path)


def test_labels_read_refuses_broken_jsonl(tmp_path: Path) -> None:
    """A line that is not JSON is reported with its number."""
    path = tmp_path / "l.jsonl"
    path.write_text('{"text": "a", "label": "b"}\n{not json\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2 is not JSON"):
        labels_read(path)


# -- The model and its file -------------------------------------------------------------------


def test_trained_model_round_trips_without_pickle(tmp_path: Path) -> None:
    """A saved model loads (with pickling refused) and scores exactly as before; it learnt
    the toy task."""
    model = model_train(toy_labels())
    path = model.save(tmp_path / "deep" / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"meta", "idf", "coef", "intercept", "platt"}
        assert all(data[name].dtype != object for name in data.files)
    loaded = model_load(path)
    probes = ["smoke and flames on Oak Avenue", "tea with grandma", "hay heridos en el choque"]
    assert loaded.score_many(probes) == model.score_many(probes)
    assert loaded.classes == ["not relevant", "relevant"]
    scores = loaded.score_many([EMERGENCIES[0], ORDINARY[0]])
    assert scores[0] > 0.5 > scores[1]
    assert loaded.categorise_many(probes) == ["", "", ""]
    assert not list(path.parent.glob(".model-*"))


def test_multiclass_model_categorises_and_scores_against_the_irrelevant_class() -> None:
    """Several labels give categories; the score is 1 - P("Not related")."""
    texts = [f"{t} {n}" for n in range(5) for t in ("house fire", "river flood", "nice lunch")]
    labels = [label for _ in range(5) for label in ("fire", "flood", "Not related")]
    model = model_train(LabelSet(texts=texts, labels=labels))
    assert model.categorise_many(["house fire 9", "river flood 9"]) == ["fire", "flood"]
    fire, lunch = model.score_many(["house fire 9", "nice lunch 9"])
    assert fire > 0.5 > lunch


def test_what_is_learnt_in_english_carries_over_to_other_languages() -> None:
    """Trained on English posts only, the model still tells an Italian, Portuguese or
    Spanish emergency from small talk, through the shared crisis concepts."""
    reports = [
        "Two people dead and several injured in the crash on the highway",
        "Residents evacuated as the flood reaches the houses by the river",
        "Firefighters rescue a family trapped under a collapsed building",
        "Hospital asks for blood donations for the victims of the explosion",
        "Earthquake damage: the bridge is closed, officials ask people to stay away",
        "Shelter open at the school for families who lost their homes in the fire",
    ]
    chatter = [
        "Lovely sunny morning, off to get a coffee",
        "Anyone watching the game tonight?",
        "New recipe: lemon cake with blueberries",
        "My cat just knocked the plant off the table again",
        "Can't wait for the weekend, going to the beach",
        "This song has been stuck in my head all day",
    ]
    texts = [f"{t} {n}" for n in range(8) for t in reports + chatter]
    labels = [label for _ in range(8) for label in ["relevant"] * 6 + ["not relevant"] * 6]
    model = model_train(LabelSet(texts=texts, labels=labels))
    emergencies = model.score_many(
        [
            "Ci sono morti e feriti, evacuate le case vicino al fiume",
            "Incêndio na boate: bombeiros resgatam feridos, hospital pede doações",
            "Derrumbe del puente, hay heridos y desaparecidos",
        ]
    )
    small_talk = model.score_many(
        ["Che bella giornata, andiamo al mare", "Qué buena canción, la escucho todo el día"]
    )
    assert min(emergencies) > 0.5 > max(small_talk), (emergencies, small_talk)


def test_a_feature_of_too_few_events_gets_no_weight() -> None:
    """A feature seen in posts of fewer than three events (one town's name, one event's
    hashtag) gets no weight; one seen in three events does."""
    import scipy.sparse as sp

    # Columns: 0 in events a, b, c; 1 in a and b only; 2 in a only.
    counts = sp.csr_matrix(np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=np.float32))
    weights = classifier._idf(counts, np.array(["a", "b", "c", "d"]))
    assert weights[0] > 0
    assert weights[1] == weights[2] == 0
    assert (classifier._idf(counts) > 0).all()


def test_model_load_refuses_a_pickle_and_a_foreign_npz(tmp_path: Path) -> None:
    """A file that needs unpickling, or an .npz that is not a model, is refused."""
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": classifier.FORMAT}], dtype=object))
    with pytest.raises(InvalidInputError, match="not a Watchhouse monitoring model"):
        model_load(pickled)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.array(json.dumps({"format": "other"})), idf=np.zeros(3))
    with pytest.raises(InvalidInputError, match="not a Watchhouse monitoring model"):
        model_load(foreign)


def test_a_model_of_an_older_version_must_be_trained_again(tmp_path: Path) -> None:
    """A model file written by an earlier version (other features) is refused, saying what to
    do about it."""
    path = model_train(toy_labels()).save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"][()]))
    arrays["meta"] = np.array(json.dumps({**meta, "version": 1}))
    np.savez_compressed(path, **arrays)
    with pytest.raises(InvalidInputError, match="another version of Watchhouse; train it again"):
        model_load(path)


def test_default_scorer_is_the_lexicon_until_a_model_is_trained(no_model: Path) -> None:
    """Watchhouse ships the lexicon; once a model file exists at the setting's path it is
    used instead, and replacing the file replaces the model."""
    assert scorer_load().name == "lexicon"
    assert scorer_load() is scorer_load()
    model_train(toy_labels()).save(no_model)
    trained = scorer_load()
    assert trained.name == "trained:model.npz"
    assert trained is scorer_load()
    no_model.unlink()
    assert scorer_load().name == "lexicon"


def test_unreadable_model_falls_back_to_the_lexicon(no_model: Path, caplog) -> None:
    """A damaged model file is logged and the lexicon scores instead; the stream goes on."""
    no_model.parent.mkdir(parents=True)
    no_model.write_bytes(b"PK\x03\x04 truncated")
    assert scorer_load().name == "lexicon"
    assert "model file is unreadable" in caplog.text
    with pytest.raises(InvalidInputError, match="not a Watchhouse monitoring model"):
        model_load(no_model)


def test_scorer_load_is_safe_from_many_threads(no_model: Path) -> None:
    """Threads loading at once all get the same model."""
    model_train(toy_labels()).save(no_model)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(scorer_load())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert len({id(s) for s in seen}) == 1


def test_evaluate_reports_cross_validation_and_events() -> None:
    """The toy task is learnt perfectly across folds and across events."""
    labels = toy_labels()
    events = [f"e{i % 2}" for i in range(len(labels.texts))]
    report = model_evaluate(LabelSet(labels.texts, labels.labels, events))
    assert report.macro_f1 == 1.0
    assert [e.event for e in report.events] == ["e0", "e1"]
    assert report.events_macro_f1_mean == 1.0
    assert report.as_dict()["leave_one_event_out"]["macro_f1_pooled"] == 1.0


# -- watchhouse monitoring train | evaluate on CrisisLex T26 ----------------------------------


@pytest.mark.shared_data
def test_train_command_writes_the_live_model(t26_subset: Path, no_model: Path) -> None:
    """``train`` writes the model where the setting points (creating folders), says what it
    learnt and where it wrote, and the stream's scorer picks it up."""
    out = StringIO()
    call_command("monitoring", "train", labels=t26_subset, positive=POSITIVE, stdout=out)
    text = out.getvalue()
    assert "Classes: not relevant, relevant" in text
    assert f"Wrote {no_model}" in text
    assert "relevant " in text
    scorer = scorer_load()
    assert scorer.name == "trained:model.npz"
    fire, chat = scorer.score_many(
        ["evacuation ordered for homes near the wildfire", "happy birthday to my best friend"]
    )
    assert fire > 0.5 > chat


@pytest.mark.shared_data
def test_train_command_output_option_and_multiclass(t26_subset: Path, tmp_path: Path) -> None:
    """Without --positive the model learns every Informativeness value as a category."""
    target = tmp_path / "other" / "m.npz"
    out = StringIO()
    call_command("monitoring", "train", labels=t26_subset, output=target, stdout=out)
    assert f"Wrote {target}" in out.getvalue()
    model = model_load(target)
    assert "Related and informative" in model.classes
    assert "Not related" in model.classes
    (category,) = model.categorise_many(["RT @news: 3 dead, 20 injured in the airport shooting"])
    assert category == "Related and informative"


@pytest.mark.shared_data
def test_evaluate_command_prints_classes_and_events(t26_subset: Path) -> None:
    """``evaluate`` prints per-class precision/recall/F1, macro-F1, and a line per held-out
    event with the mean across events."""
    out = StringIO()
    call_command("monitoring", "evaluate", labels=t26_subset, positive=POSITIVE, stdout=out)
    text = out.getvalue()
    assert "Stratified 5-fold cross-validation" in text
    assert "precision" in text
    assert "recall" in text
    assert "macro-F1" in text
    for event in EVENTS:
        line = next(line for line in text.splitlines() if line.startswith(event))
        assert 0.5 < float(line.split()[-1]) <= 1.0
    assert "macro-F1, mean across events" in text


@pytest.mark.shared_data
def test_evaluate_command_json(t26_subset: Path) -> None:
    """``--json`` prints figures a script can read; the model beats chance on unseen events."""
    out = StringIO()
    call_command(
        "monitoring", "evaluate", labels=t26_subset, positive=POSITIVE, json=True, stdout=out
    )
    figures = json.loads(out.getvalue())
    assert {c["label"] for c in figures["cross_validation"]["classes"]} == {
        "relevant",
        "not relevant",
    }
    assert figures["cross_validation"]["macro_f1"] > 0.7
    events = figures["leave_one_event_out"]
    assert sorted(e["event"] for e in events["events"]) == sorted(EVENTS)
    assert events["macro_f1_mean"] > 0.6


def test_commands_refuse_bad_input(tmp_path: Path, no_model: Path) -> None:
    """A missing file or column becomes a clear command error; no model is written."""
    with pytest.raises(CommandError, match="No such file"):
        call_command("monitoring", "train", labels=tmp_path / "nope.csv", stdout=StringIO())
    path = write_csv(tmp_path / "l.csv", [("fire", "a"), ("x", "b")], ("text", "label"))
    with pytest.raises(CommandError, match="no column 'body'"):
        call_command("monitoring", "evaluate", labels=path, text_column="body", stdout=StringIO())
    assert not no_model.exists()


@pytest.mark.slow
@pytest.mark.shared_data
def test_full_t26_leave_one_event_out(tmp_path: Path) -> None:
    """On all 26 events, each held out in turn, the mean macro-F1 reaches the target (0.80;
    a plain TF-IDF + linear SVM reaches about 0.77), and no event falls far behind."""
    need(T26.is_dir(), f"CrisisLex T26 ({T26}) is not beside this checkout")
    from bench.monitoring_classifier import POSITIVE as BENCH_POSITIVE
    from bench.monitoring_classifier import t26_write

    path = tmp_path / "t26-all.csv"
    t26_write(path)
    report = model_evaluate(labels_read(path, positive=BENCH_POSITIVE))
    assert len(report.events) == 26
    assert report.events_macro_f1_mean is not None
    assert report.events_macro_f1_mean >= 0.80
    assert min(e.macro_f1 for e in report.events) > 0.65
