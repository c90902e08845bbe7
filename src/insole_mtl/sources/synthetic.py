"""Deterministic synthetic smart-insole cohort in the paper's raw format (SPEC §1).

One continuous recording per subject × experiment (EXP01–EXP16, Table I of the paper), 14
channels in :data:`insole_mtl.schema.PAPER_CHANNELS` order at ``sampling_rate_hz`` (40 Hz),
``time_s`` restarting at 0 per recording. Output: a :class:`~insole_mtl.sources.cohort.RawCohort`.

Physical model
--------------
Everything is simulated in continuous time and sampled at ``fs``; a recording is a
deterministic function of ``(seed, subject index, experiment)``.

*Subjects.* Sex (P(male) = 38/72), height (M 175 ± 6.5 cm, F 162 ± 6 cm), BMI (M 24.5 ± 3.3,
F 22.5 ± 3.3) → body weight = BMI · h², clipped to 45–110 kg, so weight correlates with sex and
height. The ``weight_kg`` label is the mean of two scale readings (± 0.15 kg), rounded to 0.1
kg; the signals use the true weight. Insole size ≈ 1.52 · height (mm), in 5 mm steps. Each
subject also gets a gait style (cadence factor ± 4 %, duty-factor offsets ± 0.024, heel/forefoot
loading ratio ± 12 %, lateral/medial load split, foot-strike index, left/right phase and
amplitude asymmetry, sway amplitude, preferred ground-walking speed, squat / lunge / jumping-
jack rhythm) and a sensor set (per-FSR output scale, offset, shoe pre-load and sensitivity
± 20 %; a per-insole calibration gain, log-normal σ 0.15; accelerometer mounting tilt and
bias). Half the subjects (even index) do EXP01→16, half EXP16→01 (``order``); FSR gains
drift by +0.3 % per position in the session (insole warming).

*Feet.* Each foot is described by a vertical load ``G(t)`` in body weights (BW), the share of
that load on each of the four FSR regions, the foot pitch/roll, a linear acceleration and a
gravity factor (≈ 0 in free flight). Assumed FSR layout (the paper only fixes FSR3):
FSR1 medial forefoot (1st metatarsal head / hallux), FSR2 lateral forefoot (5th metatarsal),
FSR3 lateral heel, FSR4 medial heel. Accelerometer axes: x lateral (mirrored on the left
insole), y anterior, z up out of the sole; 1 g = 32 counts, int8 range (−128…127), so a level
insole at rest reads ≈ (0, 0, 32) ± tilt.

*Walking / running (EXP03–13).* Stride phase = ∫ f(t) dt with f jittering slowly (Ornstein–
Uhlenbeck, ±1.2 % on the treadmill, ±3.5 % over ground); the left foot is half a cycle
behind the right (± the subject's asymmetry). Cadence (steps/min) = (60 + 39·v) walking,
(150 + 30·(v − 1.94)) running (v in m/s), × √(170 cm / height) × subject factor. Duty
factor (stance / stride) = 0.655 − 0.085·(v − 0.83) + 0.0003·(W − 70 kg) walking, clipped to
0.56–0.70 (double support, never both feet unloaded) and 0.40 − 0.18·(v − 1.94) +
0.001·(W − 70 kg) running, clipped to 0.26–0.50 (< 0.5: flight phases with both feet
unloaded; heavier subjects stay slightly longer on the ground), each + the subject's offset
(σ 0.024, the between-subject spread at a given speed, larger than the weight effect).
Stance load: walking is the classic M-shaped double hump (peaks 1.05–1.2 BW rising with
speed, valley 0.8–0.68 BW); running a half-sine plus a heel-strike impact transient
(strength ∝ strike index, rising with speed). Every template is scaled so the
foot's mean load over the stride is 0.5 BW (impulse = body weight), so shorter contacts
mean higher peaks. Load moves from heel to forefoot at heel-off (stance fraction 0.52
walking; 0.22 + 0.2·strike + 0.0003·(W − 70) running + the subject's offset σ 0.05, i.e.
heavier runners load the heel marginally longer) and from lateral to medial during stance.
Per-stride amplitude (2.5–5 %) and contact time (1.5 %) jitter. Foot pitch follows a
heel-strike → flat → toe-off → swing template; swing adds forward (∝ 2.2·v / swing time)
and vertical accelerations and heel strike an impact spike (walk 1.2 g + 1 g per m/s; run
3–5.5 g + 1.5 g per m/s, clipped at int8).

*Standing (EXP01–02).* Two feet share the load 50/50 ± a slow (τ 2.5 s) and a fast (τ 0.4 s)
weight shift; centre of pressure sways antero-posteriorly (heel share 0.6 ± sway).
Accelerometer: constant tilt + noise. The bag adds ``bag_kg`` (3.4 kg) to the carried load.

*Squat (EXP14).* 0.3–0.5 Hz (per subject), both feet in phase; depth = sin²(π·phase),
load = 0.5·(1 + COM acceleration / g) per foot (±10–15 %), heel share rises with depth.

*Lunge (EXP15).* One lunge every 2.2–3.2 s, alternating legs: the front foot swings forward
(unloaded), lands (impact), takes ≈ 60 % of the load while the back foot rises onto its
toes (heel share → 0, pitch −28°), then swings back. Left and right are loaded
asymmetrically within each lunge.

*Jumping jack (EXP16).* 1.5–2 jumps/s, both feet in phase; contact 38–65 % of a jump
(longer for heavier subjects), forefoot landings with impact, free flight (accelerometer
reads ≈ 0 g), alternating wide/narrow stance (lateral acceleration and roll alternate).

*FSR reading.* Sensor pressure ∝ load_kg / 70 · (260 mm / insole size) · G · region share ·
sensitivity (per subject and sensor, σ 20 %: commercial FSRs differ ± 15–25 % part to part)
+ shoe pre-load; reading = offset + scale · insole gain · (1 − exp(−x)) + noise, rounded to
integers in 0…1023 (scale 650–950 counts per sensor; insole gain log-normal σ 0.15 per insole,
like the 1.15–1.37 × BW·g interquartile range of gaitpdb's calibrated insoles). FSR3's
sensitivity is the highest, so it saturates most (SPEC §1, §7); the other FSRs stay
near-linear. A heavier wearer loads every sensor more on average and drives FSR3 further into
saturation (flatter peaks), but a more sensitive sensor or a smaller insole does the same, and a
higher-gain insole raises every reading of that foot without any change of weight.

*Difficulty.* The cohort is meant to be as hard for body weight as real insoles, not easier:
the weight couplings of the stance timing are weak (literature-sized, not tuned) and smaller
than the between-subject spreads, and the calibration / sensitivity spreads confound both the
force magnitude and the saturation shape. ``python -m insole_mtl.benchmarks realism`` checks it
subject-wise (5 folds): at the default config (36 subjects, seed 7, duration scale 0.15) the
calibrated mean-force line reaches 0.71 × the mean predictor's MAE (gaitpdb: 0.68) and a ridge
on 16 scale-free FSR shape features ≈ 1.0 × (gaitpdb: 0.99); other cohort seeds give line
0.7–0.9 and ridge 0.75–1.1 (the saturation and stance-time cues are still there, but weak and
confounded). Speed is visible in shape through the cadence (the stripe period of a recurrence
plot), the duty factor and the impact size. Nuisance per subject (sensor sensitivity and
calibration, insole size, gait style) keeps unseen-subject generalisation a real problem.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from insole_mtl.schema import EXPERIMENT, PAPER_CHANNELS, RECORDING, SUBJECT, TIME
from insole_mtl.sources.cohort import RawCohort

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("stand", "walk", "run", "squat", "lunge", "jumping_jack")
MIN_DURATION_S = 4.0  # one 160-sample window at 40 Hz
G_COUNTS = 32.0  # accelerometer counts per g (int8, ±4 g)
ACC_RANGE = (-128.0, 127.0)
FSR_RANGE = (0.0, 1023.0)  # 10-bit ADC
REF_WEIGHT_KG = 70.0
REF_INSOLE_MM = 260.0
GRAVITY = 9.81
# Pressure sensitivity per region (FSR1..4) in "saturation units per BW of region load":
# FSR3 (lateral heel) is the most sensitive, so it saturates in the range of body weight.
FSR_SENSITIVITY = np.array([0.9, 0.8, 1.6, 0.9])


@dataclass(frozen=True)
class ExperimentSpec:
    """What one experiment of the protocol (Table I) asks the subject to do.

    Attributes:
        experiment: Experiment number (1–16).
        name: Human-readable task.
        kind: One of :data:`KINDS` (selects the physics).
        speed_kmh: Treadmill belt speed in km/h, ``None`` off the treadmill.
        bag: Whether the subject carries the ``bag_kg`` backpack.
        default_duration_s: Paper-like recording length in seconds.
    """

    experiment: int
    name: str
    kind: str
    speed_kmh: float | None
    bag: bool
    default_duration_s: float


def _spec(exp: int, name: str, kind: str, speed: float | None, bag: bool, dur: float) -> ExperimentSpec:
    return ExperimentSpec(exp, name, kind, speed, bag, dur)


EXPERIMENT_TABLE: Mapping[int, ExperimentSpec] = MappingProxyType(
    {
        1: _spec(1, "stand still", "stand", None, False, 30.0),
        2: _spec(2, "stand still with bag", "stand", None, True, 30.0),
        **{
            3 + i: _spec(3 + i, f"treadmill walk {v:g} km/h", "walk", v, False, 50.0)
            for i, v in enumerate((3.0, 3.5, 4.0, 4.5, 5.0, 5.5))
        },
        **{
            9 + i: _spec(9 + i, f"treadmill run {v:g} km/h", "run", v, False, 40.0)
            for i, v in enumerate((7.0, 7.5, 8.0))
        },
        12: _spec(12, "walk on ground", "walk", None, False, 30.0),
        13: _spec(13, "walk on ground with bag", "walk", None, True, 30.0),
        14: _spec(14, "squat", "squat", None, False, 20.0),
        15: _spec(15, "lunge", "lunge", None, False, 20.0),
        16: _spec(16, "jumping jack", "jumping_jack", None, False, 10.0),
    }
)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass(frozen=True)
class SyntheticCohortConfig:
    """Parameters of :func:`generate_cohort`.

    Attributes:
        n_subjects: Number of subjects (``S001`` …).
        seed: Non-negative base seed; subject ``i`` depends only on ``(seed, i)``.
        sampling_rate_hz: Output sampling rate in Hz.
        durations_s: Per-experiment duration overrides in seconds (each ≥ 4 s); experiments not
            listed keep their paper-like default (:data:`EXPERIMENT_TABLE`).
        duration_scale: Multiplies every duration; the result is never below 4 s.
        experiments: Experiment numbers to generate (subset of 1–16, unique).
        bag_kg: Backpack load of EXP02 / EXP13 in kg.
    """

    n_subjects: int = 72
    seed: int = 0
    sampling_rate_hz: float = 40.0
    durations_s: Mapping[int, float] | None = None
    duration_scale: float = 1.0
    experiments: Sequence[int] = field(default=tuple(range(1, 17)))
    bag_kg: float = 3.4

    def __post_init__(self) -> None:
        if not _is_int(self.n_subjects) or self.n_subjects < 1:
            raise ValueError(f"synthetic.n_subjects: expected an integer >= 1, got {self.n_subjects!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"synthetic.seed: expected an integer >= 0, got {self.seed!r}")
        for name in ("sampling_rate_hz", "duration_scale"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"synthetic.{name}: expected a finite number > 0, got {value!r}")
        if not _is_real(self.bag_kg) or not math.isfinite(self.bag_kg) or self.bag_kg < 0:
            raise ValueError(f"synthetic.bag_kg: expected a finite number >= 0, got {self.bag_kg!r}")
        experiments = self.experiments
        if isinstance(experiments, (str, bytes)) or not isinstance(experiments, Sequence) or len(experiments) == 0:
            raise ValueError(f"synthetic.experiments: expected a non-empty list of experiment numbers, got {experiments!r}")
        for exp in experiments:
            if not _is_int(exp) or int(exp) not in EXPERIMENT_TABLE:
                raise ValueError(f"synthetic.experiments: unknown experiment {exp!r}; expected integers 1-16")
        if len(set(int(e) for e in experiments)) != len(experiments):
            raise ValueError(f"synthetic.experiments: duplicate experiment numbers in {list(experiments)}")
        object.__setattr__(self, "experiments", tuple(int(e) for e in experiments))
        if self.durations_s is not None:
            if not isinstance(self.durations_s, Mapping):
                raise ValueError(f"synthetic.durations_s: expected a mapping experiment -> seconds, got {self.durations_s!r}")
            for exp, seconds in self.durations_s.items():
                if not _is_int(exp) or int(exp) not in EXPERIMENT_TABLE:
                    raise ValueError(f"synthetic.durations_s: unknown experiment {exp!r}; expected integers 1-16")
                if not _is_real(seconds) or not math.isfinite(seconds) or seconds < MIN_DURATION_S:
                    raise ValueError(
                        f"synthetic.durations_s[{exp}]: expected a number of seconds >= {MIN_DURATION_S:g}, got {seconds!r}"
                    )
            object.__setattr__(
                self, "durations_s", MappingProxyType({int(k): float(v) for k, v in self.durations_s.items()})
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> SyntheticCohortConfig:
        """Build a config from a parameters mapping (e.g. ``params:synthetic`` from YAML).

        Missing keys keep their defaults. ``durations_s`` keys may be integers or integer strings
        (``"3"``); ``experiments`` may be any list.

        Raises:
            ValueError: On an unknown key (named in the message) or an invalid value.
        """
        if params is None:
            return cls()
        if not isinstance(params, Mapping):
            raise ValueError(f"synthetic: expected a mapping of parameters, got {type(params).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(k) for k in params if k not in known)
        if unknown:
            raise ValueError(f"synthetic: unknown parameter(s) {unknown}; expected some of {known}")
        kwargs: dict[str, Any] = dict(params)
        if kwargs.get("durations_s") is not None:
            durations = kwargs["durations_s"]
            if not isinstance(durations, Mapping):
                raise ValueError(f"synthetic.durations_s: expected a mapping experiment -> seconds, got {durations!r}")
            converted: dict[int, Any] = {}
            for key, seconds in durations.items():
                try:
                    converted[int(key)] = seconds
                except (TypeError, ValueError):
                    raise ValueError(f"synthetic.durations_s: unknown experiment {key!r}; expected integers 1-16") from None
            kwargs["durations_s"] = converted
        if kwargs.get("experiments") is not None and not isinstance(kwargs["experiments"], (str, bytes)):
            kwargs["experiments"] = tuple(kwargs["experiments"])
        for name in ("sampling_rate_hz", "duration_scale", "bag_kg"):
            if _is_int(kwargs.get(name)):
                kwargs[name] = float(kwargs[name])
        return cls(**kwargs)

    def duration_of(self, experiment: int) -> float:
        """Effective duration of ``experiment`` in seconds (override or default, scaled, ≥ 4 s)."""
        base = EXPERIMENT_TABLE[experiment].default_duration_s
        if self.durations_s is not None and experiment in self.durations_s:
            base = self.durations_s[experiment]
        return max(MIN_DURATION_S, base * self.duration_scale)

    def n_samples_of(self, experiment: int) -> int:
        """Number of samples of one recording of ``experiment``."""
        return int(round(self.duration_of(experiment) * self.sampling_rate_hz))


# --------------------------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    """Traits of one synthetic subject (all drawn from the subject's own generator)."""

    index: int
    sex: str
    age: int
    height_cm: float
    weight_true: float
    weight_label: float
    insole_size: int
    cadence_factor: float
    run_cadence_factor: float
    duty_walk_offset: float
    duty_run_offset: float
    duty_asym: float
    heel_ratio: float
    heel_off_offset: float
    strike: float
    lat_heel: float
    med_fore: float
    phase_asym: float
    amp_asym: float
    sway: float
    ap_sway: float
    ground_speed_kmh: float
    squat_hz: float
    squat_depth_m: float
    lunge_period_s: float
    jack_hz: float
    jack_duty: float
    pitch_gain: float
    fsr_scale: np.ndarray  # (2, 4) counts at saturation, [R, L] × FSR1..4
    fsr_offset: np.ndarray  # (2, 4) counts
    fsr_sens: np.ndarray  # (2, 4) sensitivity factor
    fsr_preload: np.ndarray  # (2, 4) saturation units
    fsr_noise: float  # counts (std)
    mount_pitch_deg: np.ndarray  # (2,)
    mount_roll_deg: np.ndarray  # (2,)
    acc_bias: np.ndarray  # (2, 3) counts
    insole_gain: np.ndarray  # (2,) per-insole calibration factor [R, L]

    @property
    def id(self) -> str:
        return subject_id(self.index)

    @property
    def forward(self) -> bool:
        return self.index % 2 == 0


def subject_id(index: int) -> str:
    """Subject id of 0-based subject ``index`` (``0 -> "S001"``)."""
    return f"S{index + 1:03d}"


def recording_id(index: int, experiment: int) -> str:
    """Recording id of subject ``index`` and ``experiment`` (``(0, 3) -> "S001_EXP03"``)."""
    return f"{subject_id(index)}_EXP{experiment:02d}"


def _draw_subject(seed: int, index: int) -> _Subject:
    """Draw the traits of subject ``index`` from a generator seeded by ``(seed, index)`` only."""
    rng = np.random.default_rng([seed, index])
    male = bool(rng.random() < 38 / 72)
    height = float(np.clip(rng.normal(175.0, 6.5) if male else rng.normal(162.0, 6.0), 148.0, 198.0))
    bmi = float(np.clip(rng.normal(24.5 if male else 22.5, 3.3), 17.0, 38.0))
    weight = float(np.clip(bmi * (height / 100.0) ** 2, 45.0, 110.0))
    weight_label = round(float(np.mean(weight + rng.normal(0.0, 0.15, size=2))), 1)
    age = int(np.clip(round(rng.normal(35.0, 11.7)), 19, 65))
    foot_mm = 1.52 * height * rng.normal(1.0, 0.025)
    insole = int(5 * round(foot_mm / 5.0))
    dw = weight - REF_WEIGHT_KG
    cadence_factor = float(np.clip(rng.normal(1.0, 0.04), 0.9, 1.1))
    return _Subject(
        index=index,
        sex="M" if male else "F",
        age=age,
        height_cm=round(height, 1),
        weight_true=weight,
        weight_label=weight_label,
        insole_size=insole,
        cadence_factor=cadence_factor,
        run_cadence_factor=float(cadence_factor * rng.normal(1.0, 0.02)),
        # Between-subject spread of the stance fraction at a given speed: about 2 % of the stride walking and
        # 2-4 % running (duty factors of 0.3-0.4 among runners at the same speed).
        duty_walk_offset=float(rng.normal(0.0, 0.024)),
        duty_run_offset=float(rng.normal(0.0, 0.024)),
        duty_asym=float(rng.normal(0.0, 0.01)),
        # Heel/forefoot loading split: foot type, arch and shoe drop make regional plantar loads differ by
        # +-10-15 % between healthy adults.
        heel_ratio=float(np.clip(rng.normal(1.0, 0.12), 0.7, 1.3)),
        heel_off_offset=float(rng.normal(0.0, 0.05)),
        strike=float(np.clip(0.6 + 0.005 * dw + rng.normal(0.0, 0.2), 0.0, 1.0)),
        lat_heel=float(np.clip(rng.normal(0.55, 0.05), 0.4, 0.7)),
        med_fore=float(np.clip(rng.normal(0.55, 0.06), 0.35, 0.75)),
        phase_asym=float(np.clip(rng.normal(0.0, 0.012), -0.04, 0.04)),
        amp_asym=float(rng.normal(0.0, 0.04)),
        sway=float(rng.uniform(0.03, 0.09)),
        ap_sway=float(rng.uniform(0.02, 0.06)),
        ground_speed_kmh=float(np.clip(rng.normal(4.8, 0.35), 3.8, 5.8)),
        squat_hz=float(rng.uniform(0.3, 0.5)),
        squat_depth_m=float(rng.uniform(0.3, 0.5)),
        lunge_period_s=float(rng.uniform(2.2, 3.2)),
        jack_hz=float(rng.uniform(1.5, 2.0)),
        jack_duty=float(np.clip(0.5 + 0.0015 * dw + rng.normal(0.0, 0.03), 0.38, 0.65)),
        pitch_gain=float(np.clip(rng.normal(1.0, 0.1), 0.7, 1.3)),
        fsr_scale=rng.uniform(650.0, 950.0, size=(2, 4)),
        fsr_offset=rng.uniform(0.0, 12.0, size=(2, 4)),
        # Sensor-to-sensor sensitivity of commercial FSRs: +-15-25 % part to part (FSR datasheets), plus how
        # well each disc sits under its region in the shoe.
        fsr_sens=np.clip(rng.normal(1.0, 0.20, size=(2, 4)), 0.5, 1.5),
        fsr_preload=rng.uniform(0.0, 0.03, size=(2, 4)),
        fsr_noise=float(rng.uniform(1.0, 2.5)),
        mount_pitch_deg=rng.normal(0.0, 3.0, size=2),
        mount_roll_deg=rng.normal(0.0, 3.0, size=2),
        acc_bias=rng.normal(0.0, 1.0, size=(2, 3)),
        # Per-insole calibration (readout gain, lamination pre-stress, fit in the shoe), drawn last so every
        # other trait keeps its draw. Real insoles read 1.15-1.37 x BW.g (interquartile range over gaitpdb's
        # walks: sigma_log ~ 0.13 for the pair, 0.13-0.18 per insole depending on how much is per sensor);
        # uncalibrated FSR insoles spread at least as much. With the per-sensor spreads above, subjects' mean
        # readings scatter ~12 % about their weight line (gaitpdb: ~11 %).
        insole_gain=np.exp(rng.normal(0.0, 0.15, size=2)),
    )


# --------------------------------------------------------------------------------------------
# Foot drives: load, region shares and kinematics of one foot over one recording
# --------------------------------------------------------------------------------------------


@dataclass
class _Foot:
    """Physical state of one foot, sampled: every array has shape ``(n,)`` unless noted.

    load: vertical load in body weights; shares: ``(n, 4)`` fraction of the load on FSR1..4;
    pitch/roll: foot angles in degrees (toe up / lateral edge up positive); lin: ``(n, 3)``
    linear acceleration (x lateral, y anterior, z up) in g; gravity: 1 on the ground, ≈ 0 in
    free flight.
    """

    load: np.ndarray
    shares: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    lin: np.ndarray
    gravity: np.ndarray


def _ou(rng: np.random.Generator, n: int, fs: float, tau_s: float) -> np.ndarray:
    """Stationary unit-variance Ornstein–Uhlenbeck noise, shape ``(n,)``, correlation time ``tau_s``."""
    a = math.exp(-1.0 / (tau_s * fs))
    white = rng.standard_normal(n) * math.sqrt(1.0 - a * a)
    x0 = rng.standard_normal()
    out, _ = lfilter([1.0], [1.0, -a], white, zi=[a * x0])
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _cycles(
    rng: np.random.Generator,
    n: int,
    fs: float,
    hz: float,
    jitter: float,
    tau_s: float,
    slow: np.ndarray | None = None,
    fast_jitter: float = 0.0,
) -> np.ndarray:
    """Cumulative cycle count (float, ≥ 0) of a rhythm at ``hz`` with slow relative ``jitter``.

    ``slow`` (shape ``(n,)``, optional) multiplies the instantaneous frequency (e.g. turns);
    ``fast_jitter`` adds stride-to-stride variability (correlation time 0.6 s).
    """
    f = hz * (1.0 + jitter * _ou(rng, n, fs, tau_s))
    if fast_jitter > 0.0:
        f = f + hz * fast_jitter * _ou(rng, n, fs, 0.6)
    if slow is not None:
        f = f * slow
    return rng.random() + np.cumsum(f) / fs


def _turns(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """Signed turn envelope, shape ``(n,)`` in [-1, 1]: U-turns at the corridor's ends every 8–14 s."""
    t = np.arange(n) / fs
    envelope = np.zeros(n)
    centre = rng.uniform(3.0, 10.0)
    while centre < t[-1] + 2.0:
        envelope += rng.choice((-1.0, 1.0)) * np.exp(-(((t - centre) / 0.9) ** 2))
        centre += rng.uniform(8.0, 14.0)
    return np.clip(envelope, -1.0, 1.0)


def _shares(heel: np.ndarray, lat_heel: np.ndarray | float, med_fore: np.ndarray | float) -> np.ndarray:
    """Region shares ``(n, 4)`` FSR1..4 from heel share and lateral-heel / medial-forefoot fractions."""
    fore = 1.0 - heel
    return np.stack([fore * med_fore, fore * (1.0 - med_fore), heel * lat_heel, heel * (1.0 - lat_heel)], axis=1)


def _walk_template(s: np.ndarray, v: float, impact: float) -> np.ndarray:
    """M-shaped walking stance load (relative), ``s`` = stance fraction in [0, 1], plus a heel-strike transient."""
    valley = 0.80 - 0.17 * (v - 0.83)
    p1 = 1.05 + 0.2 * (v - 0.83)
    p2 = 1.06 + 0.1 * (v - 0.83)
    envelope = 1.0 - (1.0 - np.sin(np.pi * np.clip(s, 0.0, 1.0))) ** 4
    hump = (
        valley
        + (p1 - valley) * np.exp(-(((s - 0.24) / 0.13) ** 2))
        + (p2 - valley) * np.exp(-(((s - 0.76) / 0.13) ** 2))
    )
    return envelope * (hump + impact * np.exp(-(((s - 0.05) / 0.025) ** 2)))


def _run_template(s: np.ndarray, impact: float) -> np.ndarray:
    """Running stance load (relative): half-sine plus a heel-strike impact transient."""
    s = np.clip(s, 0.0, 1.0)
    return np.sin(np.pi * s) + impact * np.exp(-(((s - 0.09) / 0.035) ** 2)) * np.sin(np.pi * s) ** 0.3


_GRID = np.linspace(0.0, 1.0, 401)


def _gait(subj: _Subject, kind: str, speed_kmh: float, ground: bool, n: int, fs: float, rng: np.random.Generator) -> list[_Foot]:
    """Treadmill / ground walking or running at ``speed_kmh`` → ``[right, left]`` feet."""
    v = speed_kmh / 3.6
    dw = subj.weight_true - REF_WEIGHT_KG
    leg = math.sqrt(170.0 / subj.height_cm)
    if kind == "walk":
        stride_hz = (60.0 + 39.0 * v) * leg * subj.cadence_factor / 120.0
        # Heavier walkers stand slightly longer at a matched speed (obese vs lean: ~1 % of the stride per 40 kg).
        duty = float(np.clip(0.655 - 0.085 * (v - 0.83) + 0.0003 * dw + subj.duty_walk_offset, 0.56, 0.70))
        walk_impact, impact = (0.15 if ground else 0.05), 0.0
        m_template = float(np.mean(_walk_template(_GRID, v, walk_impact)))
        amp_jitter = 0.05 if ground else 0.03
        h_max = float(np.clip(0.92 * subj.heel_ratio, 0.6, 1.0))
        s_off = 0.52 + 0.05 * (subj.heel_ratio - 1.0) + 0.5 * subj.heel_off_offset
        # The treadmill deck is cushioned: heel strikes over ground are sharper.
        impact_g = (1.2 + 1.0 * (v - 0.83)) * (1.5 if ground else 1.0)
        strike_deg, toe_off_deg, lift_m = 14.0, -32.0, 0.10
        pitch_u = [0.0, 0.15, 0.55, 0.85, 1.0]
        pitch_sw = [-22.0, 6.0]
    else:
        stride_hz = (150.0 + 30.0 * (v - 1.944)) * leg * subj.run_cadence_factor / 120.0
        # Heavier runners stay a little longer on the ground, but duty factor varies widely between runners and
        # only weakly with body mass: +0.001 per kg (+0.02, 5 % of 0.4, for +20 kg) stays under the spread.
        duty = float(np.clip(0.40 - 0.18 * (v - 1.944) + 0.001 * dw + subj.duty_run_offset, 0.26, 0.50))
        walk_impact, impact = 0.0, subj.strike * (0.35 + 0.25 * (speed_kmh - 7.0))
        m_template = float(np.mean(_run_template(_GRID, impact)))
        amp_jitter = 0.025
        h_max = float(np.clip((0.35 + 0.6 * subj.strike) * subj.heel_ratio, 0.15, 1.0))
        # Heel-off: set by the foot-strike pattern; body mass moves it by < 0.01 of stance per 20 kg, well under
        # the stride-to-stride and between-subject spread (heel_off_offset, 0.05).
        s_off = 0.22 + 0.2 * subj.strike + 0.0003 * dw + subj.heel_off_offset
        impact_g = 3.0 + 2.5 * subj.strike + 1.5 * (v - 1.944)
        strike_deg, toe_off_deg, lift_m = -8.0 + 22.0 * subj.strike, -45.0, 0.20
        pitch_u = [0.0, 0.2, 0.45, 0.8, 1.0]
        pitch_sw = [-35.0, 5.0]
    # Over ground the subject turns at the corridor's ends: slower, asymmetric steps, centripetal pull.
    turn = _turns(rng, n, fs) if ground else np.zeros(n)
    # A treadmill paces the stride; over ground stride times vary more (slow drift and stride to stride).
    cycles = _cycles(
        rng, n, fs, stride_hz, 0.035 if ground else 0.012, 4.0, slow=1.0 - 0.15 * np.abs(turn),
        fast_jitter=0.03 if ground else 0.008,
    )  # fmt: skip
    n_strides = int(cycles[-1]) + 3
    amp_z = rng.standard_normal((2, n_strides))
    duty_z = rng.standard_normal((2, n_strides))
    period = 1.0 / stride_hz
    feet = []
    for foot in (0, 1):
        sign = 1.0 if foot == 0 else -1.0
        cyc = cycles + (0.0 if foot == 0 else 0.5 + subj.phase_asym)
        k = np.floor(cyc).astype(np.int64)
        u = cyc - k
        d_mean = duty * (1.0 + sign * subj.duty_asym / 2.0)
        d = d_mean * (1.0 + 0.015 * duty_z[foot, k])
        amp = (1.0 + sign * subj.amp_asym / 2.0) * (1.0 + amp_jitter * amp_z[foot, k])
        stance = u < d
        s = np.where(stance, u / d, 0.0)
        template = _walk_template(s, v, walk_impact) if kind == "walk" else _run_template(s, impact)
        load = np.where(stance, template * amp * (1.0 + 0.2 * sign * turn) * 0.5 / (d * m_template), 0.0)
        heel = h_max * _sigmoid((s_off - s) / 0.07)
        lat = np.clip(subj.lat_heel + 0.12 * (0.3 - s), 0.2, 0.85)
        med = np.clip(subj.med_fore + 0.25 * (s - 0.6), 0.15, 0.9)
        # Foot pitch: heel strike -> flat -> heel rise -> toe-off -> swing (knots in cycle units).
        knots_u = [d_mean * p for p in pitch_u] + [d_mean + 0.3 * (1 - d_mean), d_mean + 0.78 * (1 - d_mean), 1.0]
        knots_p = [strike_deg, 0.0, 0.0, toe_off_deg / 3.0, toe_off_deg, *pitch_sw, strike_deg]
        pitch = subj.pitch_gain * np.interp(u, knots_u, knots_p)
        # Swing: forward acceleration then deceleration, vertical lift; impact at contact.
        swing_s = (1.0 - d_mean) * period
        w = np.where(stance, 0.0, (u - d) / (1.0 - d))
        a_fwd = 2.2 * v / (swing_s / 2.0) * (np.pi / 2.0) / GRAVITY
        a_up = lift_m * (2.0 * np.pi / swing_s) ** 2 / 2.0 / GRAVITY
        tau = u * period
        spike = impact_g * amp * np.exp(-tau / 0.018)
        lin = np.zeros((n, 3))
        lin[:, 0] = np.where(stance, 0.0, 0.12 * a_fwd * np.sin(2 * np.pi * w + 0.6)) + 0.3 * sign * turn
        lin[:, 1] = np.where(stance, 0.0, a_fwd * np.sin(2 * np.pi * w)) - 0.4 * spike
        lin[:, 2] = np.where(stance, 0.0, a_up * np.cos(2 * np.pi * w) * np.sin(np.pi * w) ** 0.5) + spike
        feet.append(
            _Foot(load=load, shares=_shares(heel, lat, med), pitch=pitch, roll=np.zeros(n), lin=lin, gravity=np.ones(n))
        )
    return feet


def _stand(subj: _Subject, bag: bool, n: int, fs: float, rng: np.random.Generator) -> list[_Foot]:
    """Quiet standing: slow + fast weight shifts between the feet, antero-posterior sway."""
    shift = subj.sway * (_ou(rng, n, fs, 2.5) + 0.35 * _ou(rng, n, fs, 0.4))
    ap = subj.ap_sway * (_ou(rng, n, fs, 1.8) + 0.3 * _ou(rng, n, fs, 0.3))
    ml = 0.03 * _ou(rng, n, fs, 2.0)
    heel0 = 0.6 * subj.heel_ratio + (0.02 if bag else 0.0)
    feet = []
    for foot in (0, 1):
        sign = 1.0 if foot == 0 else -1.0
        load = np.clip(0.5 + sign * shift, 0.05, 0.95) * (1.0 + 0.004 * rng.standard_normal(n))
        heel = np.clip(heel0 - ap + 0.01 * rng.standard_normal(n), 0.15, 0.95)
        shares = _shares(heel, np.clip(subj.lat_heel + sign * ml, 0.2, 0.85), np.clip(subj.med_fore - sign * ml, 0.15, 0.9))
        pitch = 0.3 * _ou(rng, n, fs, 1.0)
        lin = 0.01 * rng.standard_normal((n, 3))
        feet.append(_Foot(load=load, shares=shares, pitch=pitch, roll=sign * 0.5 * ml, lin=lin, gravity=np.ones(n)))
    return feet


def _squat(subj: _Subject, n: int, fs: float, rng: np.random.Generator) -> list[_Foot]:
    """Slow bilateral squats: load follows the centre-of-mass acceleration, heels load at depth."""
    hz = subj.squat_hz
    cyc = _cycles(rng, n, fs, hz, 0.05, 5.0)
    k = np.floor(cyc).astype(np.int64)
    depth_k = 1.0 + 0.08 * rng.standard_normal(k[-1] + 2)
    depth = np.sin(np.pi * cyc) ** 2 * depth_k[k]
    com_acc = -subj.squat_depth_m * depth_k[k] * (2 * np.pi * hz) ** 2 / 2.0 * np.cos(2 * np.pi * cyc) / GRAVITY
    total = 1.0 + com_acc + 0.01 * _ou(rng, n, fs, 0.5)
    feet = []
    for foot in (0, 1):
        sign = 1.0 if foot == 0 else -1.0
        load = 0.5 * total * (1.0 + sign * (subj.amp_asym / 2.0 + 0.02 * _ou(rng, n, fs, 1.5)))
        heel = np.clip(0.58 * subj.heel_ratio + 0.2 * depth, 0.15, 0.95)
        shares = _shares(heel, subj.lat_heel, subj.med_fore)
        pitch = -2.0 * depth + 0.3 * _ou(rng, n, fs, 1.0)
        lin = np.zeros((n, 3))
        lin[:, 2] = com_acc * 0.3  # shoe compresses with the load; feet stay planted
        lin += 0.01 * rng.standard_normal((n, 3))
        feet.append(_Foot(load=load, shares=shares, pitch=pitch, roll=np.zeros(n), lin=lin, gravity=np.ones(n)))
    return feet


def _lunge(subj: _Subject, n: int, fs: float, rng: np.random.Generator) -> list[_Foot]:
    """Alternating forward lunges: front foot swings, lands and takes ~60 %, back foot on toes."""
    period = subj.lunge_period_s
    cyc = _cycles(rng, n, fs, 1.0 / period, 0.04, 5.0)
    k = np.floor(cyc).astype(np.int64)
    p = cyc - k
    front_is_right = k % 2 == 0
    swing_out, swing_back = p < 0.15, p >= 0.85
    planted = ~(swing_out | swing_back)
    q = np.clip((p - 0.15) / 0.7, 0.0, 1.0)
    depth = np.where(planted, np.sin(np.pi * q) ** 2, 0.0)
    ramp = _smoothstep(q / 0.15) * _smoothstep((1.0 - q) / 0.15) * planted
    side_gain = np.where(front_is_right, 1.0 + subj.amp_asym / 2.0, 1.0 - subj.amp_asym / 2.0)
    front_share = 0.6 * side_gain * ramp
    planted_s = 0.7 * period
    dyn = -0.3 * (2 * np.pi / planted_s) ** 2 / 2.0 * np.cos(2 * np.pi * q) / GRAVITY * planted
    total = 1.0 + dyn + 0.01 * _ou(rng, n, fs, 0.5)
    load_front = total * front_share
    load_back = total - load_front
    heel_front = np.clip(0.55 * subj.heel_ratio + 0.15 * depth, 0.1, 0.95)
    heel_back = np.clip(0.6 * subj.heel_ratio * (1.0 - 0.9 * ramp), 0.02, 0.95)
    # Swing of the front foot: forward before the lunge, backward after it.
    swing_s = 0.15 * period
    w = np.where(swing_out, p / 0.15, np.where(swing_back, (p - 0.85) / 0.15, 0.0))
    a_step = 0.6 * 2 * np.pi / swing_s**2 / GRAVITY
    a_front = np.zeros((n, 3))
    direction = np.where(swing_out, 1.0, np.where(swing_back, -1.0, 0.0))
    a_front[:, 1] = direction * a_step * np.sin(2 * np.pi * w)
    a_front[:, 2] = np.abs(direction) * 0.05 * (2 * np.pi / swing_s) ** 2 / 2.0 / GRAVITY * np.cos(2 * np.pi * w)
    landing_tau = np.clip(p - 0.15, 0.0, None) * period
    a_front[:, 2] += planted * 1.0 * np.exp(-landing_tau / 0.03)
    pitch_front = np.where(planted, 0.0, -10.0 * np.sin(np.pi * w))
    pitch_back = -28.0 * ramp
    feet = []
    for foot in (0, 1):
        is_front = front_is_right if foot == 0 else ~front_is_right
        load = np.where(is_front, load_front, load_back)
        heel = np.where(is_front, heel_front, heel_back)
        pitch = subj.pitch_gain * np.where(is_front, pitch_front, pitch_back)
        lin = np.where(is_front[:, None], a_front, 0.0) + 0.01 * rng.standard_normal((n, 3))
        feet.append(
            _Foot(load=load, shares=_shares(heel, subj.lat_heel, subj.med_fore), pitch=pitch, roll=np.zeros(n), lin=lin,
                  gravity=np.ones(n))
        )
    return feet


def _jumping_jack(subj: _Subject, n: int, fs: float, rng: np.random.Generator) -> list[_Foot]:
    """Jumping jacks: both feet jump together, forefoot landings, free flight, wide/narrow stance."""
    hz = subj.jack_hz
    cyc = _cycles(rng, n, fs, hz, 0.02, 4.0)
    n_jumps = int(cyc[-1]) + 3
    duty_z = rng.standard_normal(n_jumps)
    amp_z = rng.standard_normal((2, n_jumps))
    impact = 0.5
    m_template = float(np.mean(np.sin(np.pi * _GRID) ** 1.3 + impact * np.exp(-(((_GRID - 0.08) / 0.05) ** 2))))
    period = 1.0 / hz
    feet = []
    for foot in (0, 1):
        cyc_f = cyc + (0.0 if foot == 0 else 0.01 * subj.phase_asym / 0.012)
        k = np.floor(cyc_f).astype(np.int64)
        u = cyc_f - k
        d = subj.jack_duty * (1.0 + 0.03 * duty_z[k])
        contact = u < d
        s = np.where(contact, u / d, 0.0)
        template = np.sin(np.pi * s) ** 1.3 + impact * np.exp(-(((s - 0.08) / 0.05) ** 2))
        amp = 1.0 + 0.04 * amp_z[foot, k]
        load = np.where(contact, template * amp * 0.5 / (d * m_template), 0.0)
        wide = k % 2 == 0
        heel = 0.25 * subj.heel_ratio * np.sin(np.pi * s)
        med = np.clip(subj.med_fore + np.where(wide, 0.1, -0.05), 0.15, 0.9)
        w = np.where(contact, 0.0, (u - d) / (1.0 - d))
        pitch = subj.pitch_gain * np.where(contact, -6.0 * (1.0 - np.sin(np.pi * s)), -6.0 - 14.0 * np.sin(np.pi * w))
        roll = np.where(wide, 6.0, -2.0)
        flight_s = (1.0 - subj.jack_duty) * period
        a_lat = 0.2 * 2 * np.pi / flight_s**2 / GRAVITY
        lin = np.zeros((n, 3))
        # Heading from narrow to wide (k odd -> next is wide) moves the foot laterally outwards.
        lin[:, 0] = np.where(contact, 0.0, np.where(wide, -1.0, 1.0) * a_lat * np.sin(2 * np.pi * w))
        lin[:, 2] = 2.5 * amp * np.exp(-u * period / 0.02)
        lin += 0.01 * rng.standard_normal((n, 3))
        gravity = np.where(contact, 1.0, 0.15)
        feet.append(_Foot(load=load, shares=_shares(heel, subj.lat_heel, med), pitch=pitch, roll=roll, lin=lin, gravity=gravity))
    return feet


# --------------------------------------------------------------------------------------------
# Sensors
# --------------------------------------------------------------------------------------------


def _render(subj: _Subject, feet: list[_Foot], load_kg: float, position: int, rng: np.random.Generator) -> np.ndarray:
    """Sensor readings of both feet, shape ``(n, 14)`` float32 in ``PAPER_CHANNELS`` order."""
    n = feet[0].load.shape[0]
    noise = rng.standard_normal((n, 14), dtype=np.float32)
    raw = np.empty((n, 14))
    for foot, state in enumerate(feet):
        # Accelerometer: specific force = gravity projection (scaled in free flight) + linear acceleration.
        pitch = np.deg2rad(state.pitch + subj.mount_pitch_deg[foot])
        roll = np.deg2rad(state.roll + subj.mount_roll_deg[foot])
        g_cos_pitch = state.gravity * np.cos(pitch)
        raw[:, 3 * foot] = g_cos_pitch * np.sin(roll) + state.lin[:, 0]
        raw[:, 3 * foot + 1] = state.gravity * np.sin(pitch) + state.lin[:, 1]
        raw[:, 3 * foot + 2] = g_cos_pitch * np.cos(roll) + state.lin[:, 2]
        raw[:, 6 + 4 * foot : 10 + 4 * foot] = state.load[:, None] * state.shares  # BW on each region
    acc = raw[:, :6]
    acc *= G_COUNTS
    acc += subj.acc_bias.ravel() + 0.6 * noise[:, :6]
    acc[:, 3] *= -1.0  # the left insole is mounted mirrored: its +x points medially
    # FSR: saturating response to the region pressure; warming raises sensitivity and gain slightly.
    drift = 1.0 + 0.003 * position
    pressure_scale = load_kg / REF_WEIGHT_KG * REF_INSOLE_MM / subj.insole_size * drift
    x = raw[:, 6:] * (pressure_scale * np.tile(FSR_SENSITIVITY, 2) * subj.fsr_sens.ravel()) + subj.fsr_preload.ravel()
    np.maximum(x, 0.0, out=x)
    scale = subj.fsr_scale.ravel() * np.repeat(subj.insole_gain, 4) * drift  # counts at saturation, per insole gain
    fsr = subj.fsr_offset.ravel() + scale * -np.expm1(-x) + subj.fsr_noise * noise[:, 6:]
    out = np.empty((n, 14), dtype=np.float32)
    # "+ 0.0" turns the -0.0 that rint gives for small negatives into 0.0.
    out[:, :6] = np.clip(np.rint(acc), *ACC_RANGE) + 0.0
    out[:, 6:] = np.clip(np.rint(fsr), *FSR_RANGE) + 0.0
    return out


def _simulate(subj: _Subject, spec: ExperimentSpec, n: int, fs: float, bag_kg: float, rng: np.random.Generator) -> np.ndarray:
    """One recording of ``subj`` doing ``spec``: ``(n, 14)`` float32."""
    if spec.kind == "stand":
        feet = _stand(subj, spec.bag, n, fs, rng)
    elif spec.kind in ("walk", "run"):
        ground = spec.speed_kmh is None
        speed = subj.ground_speed_kmh - (0.25 if spec.bag else 0.0) if ground else float(spec.speed_kmh)  # type: ignore[arg-type]
        feet = _gait(subj, spec.kind, speed, ground, n, fs, rng)
    elif spec.kind == "squat":
        feet = _squat(subj, n, fs, rng)
    elif spec.kind == "lunge":
        feet = _lunge(subj, n, fs, rng)
    elif spec.kind == "jumping_jack":
        feet = _jumping_jack(subj, n, fs, rng)
    else:  # pragma: no cover - EXPERIMENT_TABLE only holds known kinds
        raise ValueError(f"experiment {spec.experiment}: unknown kind {spec.kind!r}; expected one of {KINDS}")
    position = spec.experiment - 1 if subj.forward else len(EXPERIMENT_TABLE) - spec.experiment
    load_kg = subj.weight_true + (bag_kg if spec.bag else 0.0)
    return _render(subj, feet, load_kg, position, rng)


# --------------------------------------------------------------------------------------------
# Cohort
# --------------------------------------------------------------------------------------------


def generate_cohort(config: SyntheticCohortConfig) -> RawCohort:
    """Generate the synthetic cohort described by ``config`` (physics in the module docstring).

    Args:
        config: Cohort size, seed, sampling rate, durations and experiments.

    Returns:
        :class:`RawCohort` with
        ``recordings``: ``recording`` (str), ``time_s`` (float64, from 0 per recording, step
        1 / fs), then the 14 ``PAPER_CHANNELS`` as float32 integers (accelerometer counts in
        −128…127, FSR readings in 0…1023); rows grouped by recording in index order.
        ``recording_index``: ``recording``, ``subject`` (str), ``experiment`` (int64), ``order``
        (``"forward"`` = EXP01→16 or ``"reverse"``); subjects in id order, experiments ascending.
        ``subjects``: ``subject``, ``weight_kg`` (float64, mean of two scale readings),
        ``sex`` (``"M"``/``"F"``), ``age`` (int64), ``insole_size`` (int64, mm),
        ``height_cm`` (float64).

    The same config gives bit-identical frames; subject ``i``'s data depends only on
    ``(seed, i)`` and the experiment, not on ``n_subjects`` or the other experiments.
    """
    start = time.perf_counter()
    fs = float(config.sampling_rate_hz)
    experiments = sorted(config.experiments)
    lengths = {exp: config.n_samples_of(exp) for exp in experiments}
    times = {exp: np.arange(lengths[exp], dtype=np.float64) / fs for exp in experiments}
    blocks: list[np.ndarray] = []
    time_blocks: list[np.ndarray] = []
    rec_ids: list[str] = []
    index_rows: list[tuple[str, str, int, str]] = []
    subject_rows: list[tuple[str, float, str, int, int, float]] = []
    for i in range(config.n_subjects):
        subj = _draw_subject(config.seed, i)
        subject_rows.append((subj.id, subj.weight_label, subj.sex, subj.age, subj.insole_size, subj.height_cm))
        for exp in experiments:
            rng = np.random.default_rng([config.seed, i, exp])
            blocks.append(_simulate(subj, EXPERIMENT_TABLE[exp], lengths[exp], fs, config.bag_kg, rng))
            time_blocks.append(times[exp])
            rid = recording_id(i, exp)
            rec_ids.append(rid)
            index_rows.append((rid, subj.id, exp, "forward" if subj.forward else "reverse"))
    data = np.concatenate(blocks, axis=0)
    counts = np.array([b.shape[0] for b in blocks])
    recordings = pd.DataFrame({RECORDING: pd.array(np.repeat(np.array(rec_ids, dtype=object), counts), dtype="str")})
    recordings[TIME] = np.concatenate(time_blocks)
    for j, channel in enumerate(PAPER_CHANNELS):
        recordings[channel] = np.ascontiguousarray(data[:, j])
    recording_index = pd.DataFrame(index_rows, columns=[RECORDING, SUBJECT, EXPERIMENT, "order"]).astype(
        {RECORDING: "str", SUBJECT: "str", EXPERIMENT: "int64", "order": "str"}
    )
    subjects = pd.DataFrame(
        subject_rows, columns=[SUBJECT, "weight_kg", "sex", "age", "insole_size", "height_cm"]
    ).astype({SUBJECT: "str", "weight_kg": "float64", "sex": "str", "age": "int64", "insole_size": "int64", "height_cm": "float64"})
    logger.info(
        "Synthetic cohort: %d subjects x %d experiments, %d samples in %.2f s",
        config.n_subjects, len(experiments), len(recordings), time.perf_counter() - start,
    )  # fmt: skip
    return RawCohort(recordings=recordings, recording_index=recording_index, subjects=subjects)
