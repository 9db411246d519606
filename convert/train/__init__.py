"""Training our own emotion CNN and age network (workstation only, TensorFlow/Keras).

    python -m convert.train emotion --epochs 30          # compact ResNet on FER2013
    python -m convert.train age --epochs 30              # WideResNet on UTKFace device-like crops
    python -m convert.train emotion --smoke              # tiny subset, about a minute
    python -m convert.train stretch-age --model age_wrn80 --ship age_wrn80_stretch --drop-base

Modules: augment (random image changes), datasets (cached arrays), models (architectures),
losses (label encodings and Keras losses), loop (fit, early stopping, checkpoints),
export (int8 TFLite, evaluation with convert/ code, targets, shipping), stretch (age values table),
members (a shipped model or an exported run). What was tried and retired: HISTORY.md.
Checkpoints and reports go to convert/work/train/<run>/ (git-ignored).
"""
import os

# TensorFlow 2.15's oneDNN kernels crash this workstation's CPU in training steps
# ("double free or corruption" in Model.fit, even on random data); the Eigen kernels work.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
