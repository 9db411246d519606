"""The audio estimate on generated recordings (decoded by the real ffmpeg) and the scanner's audio pass."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from moodbox.cli import main as cli_main
from moodbox.music import LibraryIndex, scan_library
from moodbox.music.audiofeatures import AudioError, analyse_file
from moodbox.music.audioscan import BackgroundAudioPass, run_audio_pass, scan_audio
from moodbox.music.moodmodel import shipped_mood_model
from moodbox.music.priors import Priors, shipped_priors
from moodbox.music.sidecar import Sidecar, parse_sidecar
from moodbox.music.synth import Style, render, write_audio
from moodbox.music.tagwriter import write_tags
from moodbox.music.trackmood import AUDIO_TRUST, track_mood

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
RATE = 22050
NO_PRIORS = Priors()  # nothing but the audio can describe the tracks here


def tone(midi: int, t: np.ndarray) -> np.ndarray:
    f = 440 * 2 ** ((midi - 69) / 12)
    return sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3))


def chords(progression: list[list[int]], amplitude: float, seconds_each: float = 2.0, repeats: int = 4) -> np.ndarray:
    """Sustained chords with slow attack and release (a pad)."""
    t = np.arange(int(seconds_each * RATE)) / RATE
    envelope = np.minimum(1, t / 0.5) * np.minimum(1, (seconds_each - t) / 0.5)
    one = [amplitude * envelope * sum(tone(m, t) for m in chord) / len(chord) for chord in progression]
    return np.concatenate(one * repeats)


def bursts(bpm: float, seconds: float, amplitude: float, seed: int = 0) -> np.ndarray:
    """Short noise hits on every beat over a noise bed: loud, dense, bright."""
    rng = np.random.default_rng(seed)
    out = 0.05 * rng.standard_normal(int(seconds * RATE))
    hit = int(0.06 * RATE)
    for n in range(int(seconds * bpm / 60)):
        start = int(n * 60 / bpm * RATE)
        out[start:start + hit] += amplitude * rng.standard_normal(hit) * np.exp(-np.arange(hit) / (0.015 * RATE))
    return np.clip(out, -1, 1)


A_MINOR = [[57, 60, 64], [62, 65, 69], [64, 68, 71]]  # Am Dm E
C_MAJOR = [[60, 64, 67], [65, 69, 72], [67, 71, 74]]  # C F G


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("recordings")
    files = {"pad": (folder / "pad.flac", chords(A_MINOR, 0.03)),
             "major": (folder / "major.flac", chords(C_MAJOR, 0.3)),
             "minor": (folder / "minor.flac", chords(A_MINOR, 0.3)),
             "bursts": (folder / "bursts.wav", bursts(150, 24, 0.9))}
    for path, samples in files.values():
        soundfile.write(path, samples, RATE)
    return {name: path for name, (path, _) in files.items()}


def test_the_estimate_orders_a_quiet_pad_below_loud_fast_bursts(recordings: dict[str, Path]) -> None:
    pad, loud = analyse_file(recordings["pad"]), analyse_file(recordings["bursts"])
    assert pad.loudness_db < -30 and loud.loudness_db > -20
    assert pad.energy < 0.2 < 0.5 < loud.energy
    assert pad.onset_rate < 1.0 and loud.onset_rate == pytest.approx(2.5, abs=0.3)  # 150 BPM = 2.5 hits a second
    assert loud.tempo == pytest.approx(150, abs=4)
    assert loud.centroid_hz > 3 * pad.centroid_hz
    assert pad.seconds == pytest.approx(24, abs=0.1)
    model = shipped_mood_model()
    assert model is not None and model.guess("audio", pad.model_values()).mood == "calm"
    assert model.guess("audio", loud.model_values()).energy > model.guess("audio", pad.model_values()).energy


def test_major_and_minor_chords_are_told_apart(recordings: dict[str, Path]) -> None:
    major, minor = analyse_file(recordings["major"]), analyse_file(recordings["minor"])
    assert (major.major, major.key) == (True, "C")
    assert (minor.major, minor.key) == (False, "Am")
    assert major.key_strength > 0.05 and minor.key_strength > 0.05


def test_a_clear_error_for_what_cannot_be_decoded(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(os.urandom(20000))
    with pytest.raises(AudioError):
        analyse_file(garbage)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(5 * RATE), RATE)
    with pytest.raises(AudioError, match="silent"):
        analyse_file(silent)
    with pytest.raises(AudioError):
        analyse_file(tmp_path / "missing.flac")


def test_tags_moods_csv_and_priors_win_over_an_audio_estimate() -> None:
    audio = {"loudness": -30.0, "tempo": 70.0, "energy": 0.1}
    sidecar = Sidecar(parse_sidecar("path,mood\nx/listed.mp3,energetic\n", "moods.csv"))
    priors = shipped_priors()
    args = dict(album_artist="", genre="", year=None, priors=priors, audio=audio)
    assert track_mood("x/a.mp3", "Happy", "Nobody", sidecar=sidecar, **args).source == "tag"
    assert track_mood("x/listed.mp3", "", "Nobody", sidecar=sidecar, **args).source == "sidecar"
    assert track_mood("sad/a.mp3", "", "Nobody", sidecar=sidecar, **args).source == "folder"
    assert track_mood("x/a.mp3", "", "The Beatles", sidecar=sidecar, **args).source == "artist"
    guessed = track_mood("x/a.mp3", "", "Nobody", sidecar=sidecar, **{**args, "year": 1975})
    assert (guessed.source, guessed.mood) == ("audio", "calm")
    assert 0 < guessed.confidence <= AUDIO_TRUST  # never as sure as what the owner said or a prior can be
    assert track_mood("x/a.mp3", "", "Nobody", sidecar=sidecar, **{**args, "year": 1975, "audio": None}).source == "year"


def make_library(root: Path, recordings: dict[str, Path], count: int) -> list[Path]:
    """count untagged copies of the generated recordings (round robin), plus one tagged and one in moods.csv."""
    names = sorted(recordings)
    paths = []
    for n in range(count):
        source = recordings[names[n % len(names)]]
        path = root / "untagged" / f"{n:02d} {source.stem}{source.suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, path)
        paths.append(path)
    tagged = root / "tagged" / "song.flac"
    tagged.parent.mkdir(parents=True)
    shutil.copy(recordings["pad"], tagged)
    write_tags(tagged, title="Tagged", mood="Energetic")
    shutil.copy(recordings["bursts"], root / "listed.wav")
    (root / "moods.csv").write_text("path,mood\nlisted.wav,sad\n", encoding="utf-8")
    return paths


def audio_rows(index: LibraryIndex) -> list[tuple[bytes, str | None]]:
    conn = sqlite3.connect(index.db_path)
    try:
        return [(bytes(p), r) for p, r in conn.execute("SELECT path_bytes, reason FROM audio_features")]
    finally:
        conn.close()


def test_the_audio_pass_is_resumable_and_leaves_owner_moods_alone(recordings: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "Music"
    untagged = make_library(root, recordings, 6)
    with LibraryIndex(tmp_path / "library.db") as index:
        scan_library([root], index, priors=NO_PRIORS)
        assert index.source_counts() == {"unknown": 6, "tag": 1, "sidecar": 1}
        stop = threading.Event()
        seen: list[int] = []

        def progress(done: int, total: int, path: Path) -> None:
            seen.append(done)
            assert total == 6  # only the tracks nothing describes
            if done == 3:
                stop.set()  # stopped while the third file is analysed: it is finished and kept

        first = scan_audio(index, progress, stop, batch=2, priors=NO_PRIORS)
        assert (first.analysed, first.failed, first.remaining) == (3, [], 3)
        assert len(audio_rows(index)) == 3 and index.source_counts()["audio"] == 3
        generation = index.generation()
        second = scan_audio(index, priors=NO_PRIORS)  # goes on with the rest
        assert (second.analysed, second.remaining) == (3, 0)
        rows = audio_rows(index)
        assert len(rows) == len({p for p, _ in rows}) == 6  # no file twice
        assert {os.fsdecode(p) for p, _ in rows} == {str(p) for p in untagged}
        assert index.source_counts() == {"audio": 6, "tag": 1, "sidecar": 1}
        assert index.generation() > generation  # the recommender reloads the new moods
        assert scan_audio(index, priors=NO_PRIORS).analysed == 0  # nothing left: one query
        by_name = {t.path.name: t for t in index.tracks()}
        assert by_name["song.flac"].mood == "energetic" and by_name["listed.wav"].mood == "sad"
        moods = {name.split(" ", 1)[1]: t for name, t in by_name.items() if name[:2].isdigit()}
        assert moods["pad.flac"].energy < moods["bursts.wav"].energy
        assert all(0 < t.mood_confidence <= AUDIO_TRUST for t in moods.values())
        # The tag pass keeps the estimate (its refresh reads it back) and a changed file is analysed again.
        scan_library([root], index, priors=NO_PRIORS)
        assert index.source_counts()["audio"] == 6
        os.utime(untagged[0], ns=(1, 1))
        scan_library([root], index, priors=NO_PRIORS)
        assert index.source_counts()["audio"] == 5
        assert scan_audio(index, priors=NO_PRIORS).analysed == 1 and index.source_counts()["audio"] == 6


def test_an_undecodable_file_is_recorded_once_and_stays_unknown(tmp_path: Path) -> None:
    root = tmp_path / "Music"
    root.mkdir()
    template = write_audio(tmp_path / "t.mp3", render(Style(bpm=100), 3.0))
    broken = root / "broken.mp3"  # a readable header (the tag pass takes it), then garbage
    broken.write_bytes(template.read_bytes()[:600] + os.urandom(100000))
    with LibraryIndex(tmp_path / "library.db") as index:
        assert scan_library([root], index, priors=NO_PRIORS).added == 1
        report = scan_audio(index, priors=NO_PRIORS)
        assert report.analysed == 0 and [p.name for p, _ in report.failed] == ["broken.mp3"]
        assert "decoded" in report.failed[0][1] or "decode" in report.failed[0][1]
        assert index.audio_results()[broken][0] is None
        assert index.source_counts() == {"unknown": 1}
        assert scan_audio(index, priors=NO_PRIORS).failed == []  # not tried again until the file changes


def test_an_index_from_schema_2_gains_the_audio_table(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    with LibraryIndex(db) as index:
        with index.transaction() as tx:
            tx.put_track(b"/m/a.mp3", "/m", "a.mp3", 1, 1, {c: None for c in ("year", "bpm", "track_number",
                         "replaygain_track_db", "replaygain_album_db")} | {"title": "a", "artist": "", "album": "",
                         "album_artist": "", "genre": "", "duration": 10.0, "explicit": False, "mood_tag": ""},
                         {"valence": 0.5, "energy": 0.5, "mood": "neutral", "mood_source": "unknown", "era_year": None,
                          "mood_confidence": 0.0})
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE audio_features")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with LibraryIndex(db) as index:
        assert [t.title for t in index.tracks()] == ["a"]
        assert index.audio_pending(("unknown",)) == [(b"/m/a.mp3", 1, 1, 10.0)]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    conn.close()


def test_scan_json_shows_the_audio_source_and_no_audio_skips_it(recordings: dict[str, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "Music"
    make_library(root, recordings, 2)
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nlibrary:\n  path: {root}\n", encoding="utf-8")
    assert cli_main(["scan", "--config", str(config), "--json", "--no-audio"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["audio"] is None and "audio" not in report["mood_sources"]
    assert cli_main(["scan", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["audio"]["analysed"] == 2 and report["audio"]["remaining"] == 0
    assert report["mood_sources"]["audio"] == 2 and 0 < report["mood_confidence"]["audio"] <= AUDIO_TRUST
    tracks = {Path(t["path"]).name: t for t in report["tracks"]}
    bursts_track = tracks["00 bursts.wav"]
    assert bursts_track["mood_source"] == "audio" and bursts_track["audio"]["tempo"] == pytest.approx(150, abs=4)
    assert tracks["song.flac"]["mood_source"] == "tag" and "audio" not in tracks["song.flac"]
    assert tracks["listed.wav"]["mood_source"] == "sidecar"
    assert cli_main(["scan", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "audio pass: 0 tracks analysed" in out and "audio 2" in out
    config.write_text(config.read_text() + "  audio_analysis: false\n", encoding="utf-8")
    assert cli_main(["scan", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["audio"] is None


def test_the_background_pass_runs_again_when_asked_while_running(recordings: dict[str, Path], tmp_path: Path) -> None:
    """The daemon's pass runs on its own thread; a scan that ends while it runs asks again and is not lost."""
    root = tmp_path / "Music"
    paths = make_library(root, recordings, 4)
    with LibraryIndex(tmp_path / "library.db") as index:
        scan_library([root], index, priors=NO_PRIORS)
        background = BackgroundAudioPass(index)
        thread = background.request()
        shutil.copy(recordings["pad"], root / "untagged" / "late.flac")  # found by a scan during the pass
        scan_library([root], index, priors=NO_PRIORS)
        background.request()  # the same thread goes round once more (or a new one starts if it had ended)
        thread.join(30)
        for _ in range(300):  # a new thread, if one was started
            if not background.running:
                break
            time.sleep(0.1)
        assert sum(r.analysed for r in background.reports) == len(paths) + 1
        assert index.source_counts()["audio"] == len(paths) + 1
        stopped = threading.Event()
        stopped.set()
        run_audio_pass(index, stopped).join(5)  # a set stop: nothing runs, nothing raises
