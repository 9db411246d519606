"""The training loop: Keras fit over augmented batches, validation on the full validation split
after every epoch, checkpoints of the best and the last weights, early stopping, history.

Everything of a run lives in convert/work/train/<run>/:
  run.json           the configuration (enough to rebuild the model) and the outcome
  best.weights.h5    weights of the best validation epoch (what export.py converts)
  last.weights.h5    weights after the latest epoch (to continue with --init-from)
  history.json       one row per epoch: loss, validation figures, learning rate, seconds
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..common import log, write_json
from ..data import EMOTION_LABELS
from ..metrics import classification_report, years_report
from . import losses
from .augment import AugmentConfig, augment_batch, mixup
from .datasets import (AGE_SIZE, EMOTION_SIZE, RUNS, Split, age_split, age_teacher_probs, emotion_split, teacher_probs,
                       to_model_input)
from .models import ARCHS, SMOKE, ArchConfig, build



RETIRED_OPTIONS = ("teacher", "ema")


@dataclass
class TrainConfig:
    task: str                                 # emotion | age
    run: str                                  # folder name under convert/work/train
    arch: ArchConfig
    head: str = "softmax"                     # emotion: softmax; age: dldl | coral | l1
    epochs: int = 30
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 6                         # epochs without a better validation score
    seed: int = 1
    threads: int = 2
    smoothing: float = 0.1                    # emotion label smoothing
    distill: float = 0.0                      # weight of the teacher (0 = off): emotion loss term,
                                              # age dldl: share of the label distribution
    temperature: float = 3.0
    class_power: float = 0.3                  # emotion class reweighting count^-power
    balance: float = 0.5                      # age: flatten the age histogram (0 = off)
    sigma: float = 2.0                        # age dldl label width, years
    limit_train: int | None = None
    limit_val: int | None = None
    init_from: str | None = None              # a run folder whose best weights start this run
    max_minutes: float | None = None          # stop after the epoch that passes this wall time (machine-dependent:
                                              # recipes use stop_after instead)
    stop_after: int | None = None             # stop after this many epochs of the `epochs`-long schedule
    mixup: float = 0.0                        # Beta(alpha, alpha) of mixup in each batch (0 = off)
    input_size: int | None = None             # age: side of the square crop (None = 64)
    select: str = "score"                     # age: the best epoch by "score" (MAE + every year of worst band
                                              # bias beyond 3) or "mae" (MAE alone, as session 1 chose)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @property
    def dir(self) -> Path:
        return RUNS / self.run

    @property
    def input_shape(self) -> tuple[int, int, int]:
        if self.task == "emotion":
            return (EMOTION_SIZE, EMOTION_SIZE, 1)
        side = self.input_size or AGE_SIZE
        return (side, side, 3)

    @property
    def outputs(self) -> int:
        if self.task == "emotion":
            return len(EMOTION_LABELS)
        return {"dldl": len(losses.AGE_VALUES), "coral": len(losses.AGE_VALUES) - 1, "l1": 1}[self.head]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        for key in RETIRED_OPTIONS:  # runs from before session 25 may record them (unused: 0 / [])
            if d.pop(key, None):
                raise SystemExit(f"run {d.get('run')!r} used --{key}, an option retired in session 25 "
                                 "(convert/train/HISTORY.md)")
        d["arch"] = ArchConfig(**{**d["arch"], "widths": tuple(d["arch"]["widths"])})
        d["augment"] = AugmentConfig(**d["augment"])
        return cls(**d)


def default_arch(task: str, name: str | None, smoke: bool) -> ArchConfig:
    name = name or next(iter(ARCHS[task]))
    if name not in ARCHS[task]:
        raise SystemExit(f"unknown {task} architecture {name!r} (one of {', '.join(ARCHS[task])})")
    return SMOKE[name] if smoke else ARCHS[task][name]


def setup_tf(threads: int, seed: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:   # already running in this process (export right after training)
        pass
    tf.keras.utils.set_random_seed(seed)
    return tf


def load_data(cfg: TrainConfig) -> tuple[Split, Split]:
    if cfg.task == "emotion":
        return emotion_split("train", cfg.limit_train), emotion_split("test", cfg.limit_val)
    side = cfg.input_shape[0]
    return age_split("train", cfg.limit_train, side), age_split("heldout", cfg.limit_val, side)


def targets_and_weights(cfg: TrainConfig, train: Split) -> tuple[np.ndarray, np.ndarray]:
    if cfg.task == "emotion":
        k = len(EMOTION_LABELS)
        teacher = None
        if cfg.distill > 0:
            name = None if cfg.limit_train else "teacher_fer_train"
            teacher = teacher_probs(train, name)
        y = losses.emotion_targets(train.y, k, cfg.smoothing, teacher, cfg.temperature)
        return y, losses.class_weights(train.y, k, cfg.class_power)
    teacher = age_teacher_probs(train, cfg.limit_train) if cfg.distill > 0 else None
    y = losses.age_targets(train.y, cfg.head, cfg.sigma, teacher, cfg.distill)
    return y, losses.age_balance_weights(train.y, cfg.balance)


def predict_raw(model, x_u8: np.ndarray, batch: int = 256) -> np.ndarray:
    return model.predict(to_model_input(x_u8), batch_size=batch, verbose=0)


def emotion_report(scores: np.ndarray, y: np.ndarray) -> dict:
    """convert.metrics report of class scores (logits or probabilities), with 'score'."""
    rep = classification_report(y, scores.argmax(1), EMOTION_LABELS)
    rep["min_recall"] = min(c["recall"] for c in rep["per_class"].values())
    rep["score"] = rep["accuracy"]
    return rep


def validation_report(cfg: TrainConfig, raw: np.ndarray, y: np.ndarray) -> dict:
    """The report of raw training-model outputs; 'score' is higher-is-better."""
    if cfg.task == "emotion":
        return emotion_report(raw, y)
    rep = years_report(losses.decode_age(raw, cfg.head), y)
    if cfg.select == "mae":
        rep["score"] = -rep["mae"]
    return rep


def brief(rep: dict) -> str:
    if "accuracy" in rep:
        return (f"acc {rep['accuracy']:.4f} macro-F1 {rep['macro_f1']:.4f} "
                f"min-recall {rep['min_recall']:.3f}")
    return f"MAE {rep['mae']:.3f} CS5 {rep['cs5']:.3f} max|band bias| {rep['max_abs_band_bias']:.2f}"


def make_batches(train: Split, y: np.ndarray, w: np.ndarray, cfg: TrainConfig):
    """A keras Sequence: shuffled, augmented (numpy/OpenCV), normalized batches."""
    import tensorflow as tf

    class Batches(tf.keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(cfg.seed)
            self.order = self.rng.permutation(len(train))

        def __len__(self):
            return max(1, len(train) // cfg.batch)       # drop the ragged last batch

        def __getitem__(self, i):
            idx = self.order[i * cfg.batch:(i + 1) * cfg.batch]
            x = to_model_input(augment_batch(train.x[idx], self.rng, cfg.augment))
            return mixup(x, y[idx], w[idx], self.rng, cfg.mixup)

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(train))

    return Batches()


def make_callbacks(cfg: TrainConfig, model, val: Split, steps: int, schedule):
    import tensorflow as tf

    class Progress(tf.keras.callbacks.Callback):
        """A line every ~30 s inside an epoch (epochs are long on 2 CPU cores)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = self.last = time.time()
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            now = time.time()
            if now - self.last >= 30:
                self.last = now
                done = batch + 1
                rate = done * cfg.batch / (now - self.t0)
                log(f"  epoch {self.epoch + 1} batch {done}/{steps} loss {logs['loss']:.4f} "
                    f"{rate:.0f} img/s, epoch ETA {(steps - done) * cfg.batch / rate:.0f}s")

    class Validate(tf.keras.callbacks.Callback):
        """Full validation after every epoch; checkpoints; early stopping on 'score'."""

        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.history, self.wait = -np.inf, 0, [], 0
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            self.check(epoch, logs)

        def check(self, epoch, logs):
            rep = validation_report(cfg, predict_raw(model, val.x), val.y)
            lr = float(schedule(model.optimizer.iterations))
            row = {"epoch": epoch + 1, "loss": float(logs["loss"]), "lr": lr,
                   "seconds": round(time.time() - self.t0, 1),
                   "val": {k: v for k, v in rep.items() if k not in ("confusion", "per_class")}}
            self.history.append(row)
            model.save_weights(str(cfg.dir / "last.weights.h5"))
            better = rep["score"] > self.best
            if better:
                self.best, self.best_epoch, self.wait = rep["score"], epoch + 1, 0
                model.save_weights(str(cfg.dir / "best.weights.h5"))
                write_json(cfg.dir / "best_val.json", {"epoch": epoch + 1, **rep})
            else:
                self.wait += 1
            write_json(cfg.dir / "history.json", self.history)
            log(f"epoch {epoch + 1}/{cfg.epochs} loss {logs['loss']:.4f} | val {brief(rep)} | "
                f"lr {lr:.2e} | {row['seconds']:.0f}s{' | best, saved' if better else ''}")
            if cfg.stop_after and epoch + 1 >= cfg.stop_after and epoch + 1 < cfg.epochs:
                log(f"stopping after epoch {epoch + 1} of the {cfg.epochs}-epoch schedule (stop_after)")
                model.stop_training = True
            elif self.wait >= cfg.patience:
                log(f"early stop: no better validation score for {cfg.patience} epochs "
                    f"(best epoch {self.best_epoch})")
                model.stop_training = True
            elif cfg.max_minutes and time.time() - self.t0 > cfg.max_minutes * 60:
                log(f"time budget of {cfg.max_minutes:g} min used up: stopping after epoch {epoch + 1}")
                model.stop_training = True

    return [Progress(), Validate()]   # Validate last


def init_weights(model, cfg: "TrainConfig") -> None:
    """Start from a run's best weights. Same architecture: every weight. A grown one (say an
    extra stage): the leading layers whose weight shapes match, in order; the rest keep
    their fresh init."""
    run = cfg.init_from
    src_cfg, _ = load_run(run)
    path = RUNS / run / "best.weights.h5"
    if (src_cfg.arch, src_cfg.head) == (cfg.arch, cfg.head):
        model.load_weights(str(path))
        log(f"initialized from {run}")
        return
    source = build(src_cfg.task, src_cfg.arch, src_cfg.input_shape, src_cfg.outputs, src_cfg.head)
    source.load_weights(str(path))
    pairs = zip((l for l in source.layers if l.weights), (l for l in model.layers if l.weights))
    copied = 0
    for src, dst in pairs:
        if [w.shape for w in src.weights] != [w.shape for w in dst.weights]:
            break
        dst.set_weights(src.get_weights())
        copied += 1
    if copied == 0:
        raise SystemExit(f"{run}: no leading layer of it fits this model")
    total = sum(1 for l in model.layers if l.weights)
    log(f"initialized the first {copied} of {total} layers with weights from {run} "
        f"({src_cfg.arch.name} {src_cfg.arch.widths}); the rest start fresh")


def train(cfg: TrainConfig) -> dict:
    """Train one model; returns the run summary (also in run.json)."""
    tf = setup_tf(cfg.threads, cfg.seed)
    cfg.dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train_split, val = load_data(cfg)
    y, w = targets_and_weights(cfg, train_split)
    log(f"{cfg.task}: train {len(train_split)} images, validation {len(val)}; run folder {cfg.dir}")
    # seeded again here: building the mini-Xception teacher (when its soft labels are not cached yet)
    # draws from the same generators that seed the initializers and dropout layers, so without this
    # the weights of a run depended on the state of convert/work/train/cache
    tf.keras.utils.set_random_seed(cfg.seed)
    model = build(cfg.task, cfg.arch, cfg.input_shape, cfg.outputs, cfg.head)
    if cfg.init_from:
        init_weights(model, cfg)
    log(f"model {model.name}: {model.count_params():,} parameters")
    batches = make_batches(train_split, y, w, cfg)
    steps = len(batches)
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        cfg.lr * 0.1, decay_steps=max(1, cfg.epochs * steps - steps), alpha=0.01,
        warmup_target=cfg.lr, warmup_steps=steps)
    optimizer = tf.keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay)
    loss = (losses.make_emotion_loss(len(EMOTION_LABELS), cfg.distill, cfg.temperature)
            if cfg.task == "emotion" else losses.make_age_loss(cfg.head))
    model.compile(optimizer=optimizer, loss=loss)
    summary = {"config": cfg.to_json(), "parameters": int(model.count_params()),
               "train_images": len(train_split), "val_images": len(val)}
    write_json(cfg.dir / "run.json", summary)
    callbacks = make_callbacks(cfg, model, val, steps, schedule)
    model.fit(batches, epochs=cfg.epochs, callbacks=callbacks, verbose=0, shuffle=False)
    validate = callbacks[-1]
    summary.update({"epochs_run": len(validate.history), "best_epoch": validate.best_epoch,
                    "wall_seconds": round(time.time() - t0, 1),
                    "best_val": json.loads((cfg.dir / "best_val.json").read_text())})
    write_json(cfg.dir / "run.json", summary)
    log(f"training done in {summary['wall_seconds']:.0f}s, best epoch {validate.best_epoch}: "
        f"{brief(summary['best_val'])}")
    return summary


def load_run(run: str) -> tuple[TrainConfig, dict]:
    path = RUNS / run / "run.json"
    if not path.exists():
        raise SystemExit(f"{path}: no such training run")
    summary = json.loads(path.read_text())
    return TrainConfig.from_json(summary["config"]), summary


def load_model(cfg: TrainConfig):
    setup_tf(cfg.threads, cfg.seed)
    model = build(cfg.task, cfg.arch, cfg.input_shape, cfg.outputs, cfg.head)
    model.load_weights(str(cfg.dir / "best.weights.h5"))
    return model
