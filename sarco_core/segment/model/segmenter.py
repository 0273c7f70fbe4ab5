"""The trained U-Net segmenter: ``Segmenter.from_dir(models/<name>)``.

Runs with ONNX Runtime on the CPU when ``<model dir>/model.onnx`` exists and was exported from these weights (the
shipped model has one; the slim runtime installs no torch), else with torch (CUDA when available; torch threads =
available cores). Choose with ``backend=`` or ``SARCO_BACKEND=onnx|torch|auto``. Everything around the network is
NumPy (:mod:`sarco_core.segment.model.prep`), so both backends share the same pre- and post-processing.
Slices are batched, resampled to the model's pixel size and back, optionally
averaged with their left-right flip (TTA), restricted to the body outline, cleaned by the anatomy rules
(:mod:`sarco_core.segment.anatomy_rules`, on the native grid) and given a calibrated confidence and QC flags (see
:mod:`sarco_core.segment.model.qc`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sarco_core import settings
from sarco_core.body import outside_fov
from sarco_core.enums import Backend
from sarco_core.errors import ModelError
from sarco_core.metrics import DEFAULT_GATES, measure_slice
from sarco_core.segment.anatomy_rules import apply_anatomy_rules
from sarco_core.segment.base import ModelInfo, SegmentationResult
from sarco_core.segment.model.prep import (
    ArchConfig,
    Grid,
    build_network,
    crop_model_grid,
    from_model_grid,
    input_channels,
    resample,
    to_model_hu,
)
from sarco_core.segment.model.qc import (
    HIGH_NOISE_FACTOR,
    PADDING_HU,
    Calibration,
    body_mask,
    is_high_noise,
    noise_hu,
    qc_flags,
    raw_confidence,
)
from sarco_core.volume import Volume

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "model.pt"
ONNX_FILE = "model.onnx"
ONNX_META_FILE = "model.onnx.json"  # {"sha256", "weights_sha256", "opset"} written by sarco export-onnx


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cpu_threads() -> int:
    return settings.threads()


@dataclass(frozen=True)
class ModelConfig:
    """What ``models/<name>/config.json`` says (only the fields inference needs are typed)."""

    name: str
    version: str
    arch: ArchConfig
    weights: str = WEIGHTS_FILE
    sha256: str = ""
    tta: bool = True
    calibration: Calibration = field(default_factory=Calibration)
    low_confidence: float = 0.7
    sma_range_cm2: tuple[float, float] = (40.0, 350.0)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        try:
            d = json.loads(path.read_text())
            cal = d.get("confidence", {}).get("calibration")
            return cls(
                name=str(d["name"]),
                version=str(d["version"]),
                arch=ArchConfig.from_dict(d["architecture"]),
                weights=str(d.get("weights", WEIGHTS_FILE)),
                sha256=str(d.get("sha256", "")),
                tta=bool(d.get("inference", {}).get("tta", True)),
                calibration=Calibration(raw=tuple(cal["raw"]), conf=tuple(cal["conf"])) if cal else Calibration(),
                low_confidence=float(d.get("confidence", {}).get("low_confidence", 0.7)),
                sma_range_cm2=tuple(d.get("qc", {}).get("sma_range_cm2", (40.0, 350.0))),  # type: ignore[arg-type]
                raw=d,
            )
        except FileNotFoundError:
            raise ModelError(
                f"Model config {path} is missing. Reinstall the model folder or set SARCO_MODEL_DIR."
            ) from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"Model config {path} is corrupt or incomplete ({type(exc).__name__}: {exc}). "
                "Reinstall the model folder."
            ) from None


def torch_installed() -> bool:
    """Whether torch can be imported (the slim runtime has no torch: ONNX Runtime only)."""
    return importlib.util.find_spec("torch") is not None


def load_state_dict(path: Path, expected_sha256: str = "") -> dict[str, torch.Tensor]:
    """Read weights, checking the sha256 recorded in config.json; any problem -> ModelError naming the path."""
    import torch

    if not path.is_file():
        raise ModelError(f"Model weights {path} are missing. Reinstall the model folder (or retrain: sarco train).")
    if expected_sha256 and sha256_file(path) != expected_sha256:
        raise ModelError(
            f"Model weights {path} do not match the sha256 in config.json (corrupt or replaced). Reinstall the model."
        )
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"Model weights {path} could not be read ({type(exc).__name__}). Reinstall the model."
        ) from None
    if not isinstance(sd, dict):
        raise ModelError(f"Model weights {path} do not hold a state dict. Reinstall the model.")
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


class Segmenter:
    """U-Net muscle / SAT / VAT segmenter implementing the SliceSegmenter protocol (``method = "model"``)."""

    method = "model"

    def __init__(
        self,
        cfg: ModelConfig,
        net: torch.nn.Module | None,
        *,
        device: str = "cpu",
        ort_session: Any = None,
        tta: bool | None = None,
        model_dir: Path | None = None,
    ) -> None:
        self.cfg = cfg
        self.net = net
        self.device = device
        self.ort = ort_session
        self.tta = cfg.tta if tta is None else tta
        self.model_dir = model_dir
        self.model: ModelInfo | None = ModelInfo(name=cfg.name, version=cfg.version, sha256=cfg.sha256)

    @property
    def backend(self) -> str:
        return "onnx" if self.ort is not None else "torch"

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dir(
        cls, path: str | Path, *, backend: str | None = None, device: str | None = None, tta: bool | None = None
    ) -> Segmenter:
        """Load ``path/config.json`` and its weights. ``backend``: 'auto' (default), 'torch' or 'onnx'."""
        d = Path(path)
        if not d.is_dir():
            raise ModelError(f"Model folder {d} does not exist. Set SARCO_MODEL_DIR or pass an existing models/<name>.")
        cfg = ModelConfig.load(d / "config.json")
        if backend is None:
            chosen = settings.backend()
        else:
            try:
                chosen = Backend(backend.lower())
            except ValueError:
                raise ModelError(f"Unknown backend {backend!r}; choose auto, torch or onnx (SARCO_BACKEND).") from None
        onnx_path = d / ONNX_FILE
        onnx_ok = onnx_path.is_file() and _onnx_meta(d).get("weights_sha256") == cfg.sha256
        has_torch = torch_installed()
        if chosen == Backend.ONNX and not onnx_ok:
            raise ModelError(f"{onnx_path} is missing or was exported from other weights. Run: sarco export-onnx {d}")
        if chosen == Backend.TORCH and not has_torch:
            raise ModelError(
                "torch is not installed (the slim runtime runs the model with ONNX Runtime). Use backend 'onnx' "
                "(SARCO_BACKEND=onnx), or install the training set: pip install -r requirements-train.txt."
            )
        if chosen == Backend.AUTO and not onnx_ok and not has_torch:
            raise ModelError(
                f"{onnx_path} is missing or was exported from other weights, and torch is not installed to run "
                f"model.pt. Reinstall the model folder (it ships model.onnx) or run: sarco export-onnx {d} "
                "(needs requirements-train.txt)."
            )
        want_cpu = device == "cpu" or (
            device is None and (chosen == Backend.ONNX or not has_torch or not _cuda_available())
        )
        if want_cpu and chosen != Backend.TORCH and onnx_ok:
            _check_onnx_file(d)
            return cls(cfg, None, device="cpu", ort_session=_ort_session(onnx_path), tta=tta, model_dir=d)
        import torch

        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        sd = load_state_dict(d / cfg.weights, cfg.sha256)
        net = build_network(cfg.arch)
        try:
            net.load_state_dict(sd)
        except RuntimeError as exc:
            raise ModelError(
                f"Model weights {d / cfg.weights} do not fit the architecture in config.json ({str(exc)[:200]})."
            ) from None
        if dev == "cpu":
            torch.set_num_threads(cpu_threads())
        net.eval().to(dev)
        return cls(cfg, net, device=dev, tta=tta, model_dir=d)

    # ------------------------------------------------------------------ inference
    def _forward(self, x: np.ndarray) -> np.ndarray:
        """Network input (B, C, H, W) -> softmax probabilities (B, K, H, W), float32 NumPy."""
        if self.ort is not None:
            logits = np.asarray(self.ort.run(None, {"image": np.ascontiguousarray(x, np.float32)})[0], np.float32)
        else:
            import torch

            assert self.net is not None
            with torch.inference_mode():
                logits = self.net(torch.from_numpy(np.ascontiguousarray(x)).to(self.device)).float().cpu().numpy()
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)

    def segment(self, volume: Volume, indices: Sequence[int], batch_size: int = 8) -> list[SegmentationResult]:
        volume.require_hu("Muscle segmentation")
        idx = [int(i) for i in indices]
        for i in idx:
            if not 0 <= i < volume.n_slices:
                raise IndexError(f"Slice {i} is outside 0..{volume.n_slices - 1}.")
        sp = volume.spacing_mm
        out: list[SegmentationResult] = []
        for s in range(0, len(idx), batch_size):
            chunk = idx[s : s + batch_size]
            hu = np.asarray(volume.hu[chunk], dtype=np.float32)
            out.extend(self._segment_batch(hu, chunk, volume, sp.row, sp.col))
        return out

    def predict(
        self, hu: np.ndarray, row_mm: float, col_mm: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Grid]:
        """(B, H, W) HU -> (model-grid HU (B, 1, H', W'), probabilities, probabilities of the flipped input
        flipped back or None), all on the padded model grid."""
        hu_t, grid = to_model_hu(hu, row_mm, col_mm, self.cfg.arch)
        x = input_channels(hu_t, self.cfg.arch, float(np.sqrt(row_mm * col_mm)))
        if self.tta:
            both = self._forward(np.concatenate([x, x[..., ::-1]]))
            return hu_t, both[: len(x)], both[len(x) :, ..., ::-1], grid
        return hu_t, self._forward(x), None, grid

    def _segment_batch(
        self, hu: np.ndarray, indices: list[int], volume: Volume, row_mm: float, col_mm: float
    ) -> list[SegmentationResult]:
        arch = self.cfg.arch
        hu_t, p, pf, grid = self.predict(hu, row_mm, col_mm)
        probs = (p + pf) / 2 if pf is not None else p
        pad_m = resample((hu < PADDING_HU).astype(np.float32), grid.scaled_shape) > 0.5
        bodies = []
        for b in range(len(indices)):
            hum = np.array(crop_model_grid(hu_t[b, 0], grid), copy=True)
            hum[pad_m[b]] = PADDING_HU - 1000.0  # mark outside-FOV padding for the QC flags
            bodies.append((hum, *body_mask(hum, arch.pixel_size_mm)))
        body_m = np.stack([bd.astype(np.float32) for _, bd, _ in bodies])
        full = from_model_grid(probs, grid)
        body_full = resample(body_m, grid.in_shape) > 0.5
        labels_all = full.argmax(1).astype(np.uint8)
        labels_all[~body_full] = 0
        results = []
        for b, k in enumerate(indices):
            hum, body, beside = bodies[b]
            pc = np.asarray(crop_model_grid(p[b], grid))
            pfc = None if pf is None else np.asarray(crop_model_grid(pf[b], grid))
            raw, pmax, agree = raw_confidence(pc, pfc)
            conf = self.cfg.calibration(raw)
            noise = noise_hu(hu[b], float(np.sqrt(row_mm * col_mm)))
            noisy = is_high_noise(noise)
            if noisy:
                conf *= HIGH_NOISE_FACTOR
            rules = apply_anatomy_rules(
                hu[b],
                labels_all[b],
                row_mm=row_mm,
                col_mm=col_mm,
                body=np.asarray(body_full[b]),
                fov_out=(hu[b] < PADDING_HU) | outside_fov(hu[b]),
            )
            labels = rules.labels
            conf *= rules.confidence_factor
            m = measure_slice(
                hu[b],
                labels,
                row_mm=row_mm,
                col_mm=col_mm,
                kind="labels",
                gates=DEFAULT_GATES,
                index=k,
                z_mm=float(volume.z_mm[k]),
            )
            lab_m = np.asarray(crop_model_grid(probs[b], grid)).argmax(0)
            lab_m[~body] = 0
            flags = qc_flags(
                hum,
                lab_m,
                pixel_mm=arch.pixel_size_mm,
                body=body,
                other_components_px=beside,
                confidence=conf,
                sma_cm2=m.sma_cm2,
                low_confidence=self.cfg.low_confidence,
                sma_range_cm2=self.cfg.sma_range_cm2,
                high_noise=noisy,
            )
            flags = (*flags, *rules.flags)
            results.append(
                SegmentationResult(
                    index=k,
                    labels=labels,
                    confidence=conf,
                    qc_flags=flags,
                    method=self.method,
                    model=self.model,
                    extra={
                        "raw_confidence": raw,
                        "muscle_pmax": pmax,
                        "tta_agreement": agree,
                        "backend": self.backend,
                        "areas_cm2": {"sma": m.sma_cm2, "imat": m.imat_cm2, "sat": m.sat_cm2, "vat": m.vat_cm2},
                        "muscle_hu_mean": m.muscle_hu_mean,
                        "noise_hu": noise,
                        "anatomy_rules": rules.extras(),
                    },
                )
            )
        return results


def _onnx_meta(d: Path) -> dict[str, Any]:
    try:
        meta = json.loads((d / ONNX_META_FILE).read_text())
        return meta if isinstance(meta, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _cuda_available() -> bool:
    if not torch_installed():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _check_onnx_file(d: Path) -> None:
    """model.onnx must be the file model.onnx.json recorded (corrupt or replaced otherwise)."""
    want = _onnx_meta(d).get("sha256")
    if want and sha256_file(d / ONNX_FILE) != want:
        raise ModelError(
            f"{d / ONNX_FILE} does not match the sha256 in {ONNX_META_FILE} (corrupt or replaced). "
            f"Reinstall the model folder or run: sarco export-onnx {d}"
        )


def _ort_session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover
        raise ModelError("onnxruntime is not installed; use backend='torch' (SARCO_BACKEND=torch).") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_threads()
    opts.inter_op_num_threads = 1
    # idle ORT threads spin-wait after each run and steal the post-processing's CPU on small machines
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(
            f"ONNX model {path} could not be loaded ({type(exc).__name__}). Run: sarco export-onnx"
        ) from None
