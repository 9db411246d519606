"""python -m convert.train {emotion,age,export,ship,summary,stretch-age} ...  (see --help)"""
from __future__ import annotations

import argparse
import dataclasses
import time

from ..common import log, nice_self
from .augment import NONE, AugmentConfig

SMOKE_LIMITS = {"emotion": (384, 192), "age": (320, 160)}


def add_training_args(p: argparse.ArgumentParser, task: str) -> None:
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--arch", default=None, help="emotion: resnet | vgg; age: wrn | vgg")
    p.add_argument("--width", type=int, default=None, help="WideResNet width k (age wrn)")
    p.add_argument("--depth", type=int, default=None, help="WideResNet depth 6n+4 (age wrn)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--patience", type=int, default=6, help="early stopping: epochs without improvement")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit-train", type=int, default=None, help="a fixed subset of the training data")
    p.add_argument("--limit-val", type=int, default=None)
    p.add_argument("--run", default=None, help="run folder name under convert/work/train")
    p.add_argument("--init-from", default=None, help="start from the best weights of this run")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after the epoch that passes this wall time (the best checkpoint is kept)")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after N epochs of the --epochs schedule (the learning rate follows the full "
                        "schedule): a shortened run, or a run a clock once stopped, made exact")
    p.add_argument("--mixup", type=float, default=0.0,
                   help="mixup: blend each training image and its target with another by Beta(a, a) (e.g. 0.2; 0 = off)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--no-export", action="store_true", help="skip int8 conversion + evaluation")
    p.add_argument("--smoke", action="store_true",
                   help="tiny model on a tiny subset for 2 epochs: checks the whole path in about a minute")
    if task == "emotion":
        p.add_argument("--smoothing", type=float, default=0.1, help="label smoothing")
        p.add_argument("--distill", type=float, default=0.0,
                       help="weight of the distillation term (0 = off); teacher: the borrowed mini-Xception")
        p.add_argument("--temperature", type=float, default=3.0)
        p.add_argument("--class-power", type=float, default=0.3,
                       help="class reweighting count^-power (0 = off, 1 = inverse frequency)")
    else:
        p.add_argument("--head", choices=["dldl", "coral", "l1"], default="dldl",
                       help="dldl: softmax expectation; coral: ordinal; l1: plain regression")
        p.add_argument("--balance", type=float, default=0.5,
                       help="flatten the age histogram with weights count^-balance (0 = off)")
        p.add_argument("--sigma", type=float, default=2.0, help="dldl label distribution width (years)")
        p.add_argument("--input-size", type=int, default=None,
                       help="side of the square face crop in pixels (default 64); a bigger crop keeps "
                            "more skin detail and costs time per face")
        p.add_argument("--select", choices=["score", "mae"], default="score",
                       help="the best epoch by score (MAE + every year of worst band bias beyond 3) or by MAE alone")
        p.add_argument("--distill", type=float, default=0.0,
                       help="dldl: share of the shipped dlib model's distribution in the target (0 = off)")


def training_config(args, task: str):
    from .loop import TrainConfig, default_arch
    arch = default_arch(task, args.arch, args.smoke)
    if args.width is not None:
        arch = dataclasses.replace(arch, width=args.width)
    if args.depth is not None:
        arch = dataclasses.replace(arch, depth=args.depth)
    limit_train, limit_val, epochs = args.limit_train, args.limit_val, args.epochs
    if args.smoke:
        limit_train, limit_val = SMOKE_LIMITS[task]
        epochs = min(epochs, 2)
    run = args.run or (f"smoke-{task}" if args.smoke else f"{task}-{arch.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    extra = ({"smoothing": args.smoothing, "distill": args.distill, "temperature": args.temperature,
              "class_power": args.class_power} if task == "emotion" else
             {"head": args.head, "balance": args.balance, "sigma": args.sigma, "distill": args.distill,
              "input_size": args.input_size, "select": args.select})
    return TrainConfig(task=task, run=run, arch=arch, epochs=epochs, batch=args.batch, lr=args.lr,
                       patience=args.patience, seed=args.seed, threads=args.threads,
                       limit_train=limit_train, limit_val=limit_val, init_from=args.init_from,
                       max_minutes=args.max_minutes, stop_after=args.stop_after, mixup=args.mixup,
                       augment=NONE if args.no_augment else AugmentConfig(), **extra)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m convert.train", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for task in ("emotion", "age"):
        add_training_args(sub.add_parser(task, help=f"train the {task} model"), task)
    p = sub.add_parser("export", help="int8 TFLite + evaluation + comparison for a run")
    p.add_argument("run")
    p.add_argument("--n-calib", type=int, default=400, help="representative images of the int8 conversion")
    p.add_argument("--bench-n", type=int, default=200, help="faces timed side by side with the shipped model")
    p = sub.add_parser("ship", help="copy a run that beats the shipped model into models_tflite/")
    p.add_argument("run")
    p.add_argument("--name", required=True, help="new manifest name, e.g. emotion_cnn4_mixup")
    p.add_argument("--no-gate", action="store_true",
                   help="ship even if it does not beat the borrowed model (smoke recipes; a trial --out folder only)")
    p = sub.add_parser("summary", help="markdown table of all exported runs")
    p.add_argument("task", choices=["emotion", "age"])
    p = sub.add_parser("stretch-age", help="a linear stretch of a values table against end-of-range bias")
    p.add_argument("--model", default="age_wrn80", help="a manifest age model (shipped with `ship RUN --name`)")
    p.add_argument("--flip", action="store_true", help="measure (and ship) with the mirrored crop averaged")
    p.add_argument("--ship", default=None, help="add the result to the manifest under this name (+ NAME_flip)")
    p.add_argument("--drop-base", action="store_true", help="with --ship: remove --model's entry (its file stays)")
    p.add_argument("--no-gate", action="store_true",
                   help="ship even if it does not improve (smoke recipes; a trial models folder only)")
    p.add_argument("--limit-val", type=int, default=None, help="a fixed subset of the validation split (smoke)")
    args = ap.parse_args(argv)
    nice_self()

    if args.cmd in ("emotion", "age"):
        from .loop import train
        cfg = training_config(args, args.cmd)
        train(cfg)
        if not args.no_export:
            from .export import export
            export(cfg.run, n_calib=32 if args.smoke else 400, bench_n=20 if args.smoke else 200)
    elif args.cmd == "export":
        from .export import export
        export(args.run, n_calib=args.n_calib, bench_n=args.bench_n)
    elif args.cmd == "ship":
        from .export import ship
        ship(args.run, args.name, gate=not args.no_gate)
    elif args.cmd == "summary":
        from .export import summary_table
        print("\n".join(summary_table(args.task)))
        return 0
    elif args.cmd == "stretch-age":
        from .stretch import stretch_age
        stretch_age(args.model, args.flip, args.ship, args.drop_base, gate=not args.no_gate,
                    limit_val=args.limit_val)
    log("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
