"""Seeded, deterministic synthesis: ids, model names, metric curves, result CSV, event text.

Pure: no I/O, no clock, no global randomness. Every value is derived from sha256 of its
inputs, so a value never depends on which other values were computed before it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

# --- ids and names -----------------------------------------------------------------------

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ID_LENGTH = 24
# Kinds of id whose length is not ID_LENGTH, by prefix, as the newest captures show them:
# file ids were `file-` + 24 until 2024-08 and are `file-` + 22 since 2024-12 (captures of
# 2025-02 to 2025-08); job, event, checkpoint, upload, part and organization ids keep 24
# (docs/fidelity.md "Shapes").
ID_LENGTHS: dict[str, int] = {"file-": 22}
MODEL_TAG_LENGTH = 8
# 62**40 < 2**256, so 40 base62 digits of one sha256 digest are all (near) uniform.
_CHARS_PER_DIGEST = 40
_PART_SEPARATOR = b"\x1f"
_ID_DOMAIN = "id"
_MODEL_TAG_DOMAIN = "model-tag"
_SEED_DOMAIN = "seed"
_UNIFORM_DOMAIN = "uniform"
_CURVE_DOMAIN = "curve"
_STEP_NOISE_DOMAIN = "step-noise"
_INDEXED_ID_DOMAIN = "indexed-id"
_ID_SPACE = len(BASE62) ** ID_LENGTH

MAX_SEED = 2**31 - 1
FINE_TUNED_PREFIX = "ft:"  # every fine-tuned model id starts with it
FINE_TUNED_MODEL_TEMPLATE = FINE_TUNED_PREFIX + "{base}:{org}:{suffix}:{tag}"
CHECKPOINT_MODEL_TEMPLATE = "{model}:ckpt-step-{step}"

# --- metric curves -----------------------------------------------------------------------

METRIC_DECIMALS = 5
INITIAL_TRAIN_LOSS_RANGE = (1.5, 3.0)
TRAIN_LOSS_FLOOR_RANGE = (0.05, 0.3)
# How much further above the training floor the validation loss settles.
GENERALIZATION_GAP_RANGE = (0.15, 0.45)
# Validation loss at step 0 relative to the training loss at step 0.
INITIAL_VALID_RATIO_RANGE = (1.0, 1.1)
# Exponential decay of the loss gap per effective epoch (see _effective_epochs).
TRAIN_DECAY_RANGE = (1.0, 1.6)
VALID_DECAY_RANGE = (0.9, 1.3)
# Past this many effective epochs the validation loss rises linearly (overfitting).
OVERFIT_ONSET_EPOCHS = 3.0
OVERFIT_SLOPE_RANGE = (0.1, 0.2)
# The learning-rate multiplier at which one effective epoch equals one real epoch.
REFERENCE_LEARNING_RATE_MULTIPLIER = 2.0
# Log-normal multiplicative noise on losses: per-batch estimates are noisy, the
# full-validation-set estimate at epoch ends much less so.
TRAIN_LOSS_NOISE = 0.12
VALID_LOSS_NOISE = 0.06
FULL_VALID_LOSS_NOISE = 0.01
ACCURACY_NOISE = 0.01
NOISE_CLAMP = 3.0
# mean token accuracy ~= exp(-ACCURACY_LOSS_SCALE * loss): loss 2.2 -> 0.41, 0.1 -> 0.96.
ACCURACY_LOSS_SCALE = 0.4

# A validation batch is evaluated every this-many steps: the real metrics events carry
# valid_loss / valid_mean_token_accuracy at steps 10, 20, ... only (the full validation set at
# each epoch's end and at the last step).
VALID_EVAL_INTERVAL = 10

# --- result CSV and events ---------------------------------------------------------------

RESULT_CSV_ROWS_PER_CHUNK = 4_096  # rows of the result CSV encoded at a time
RESULT_CSV_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
REWARD_MESSAGE_TEMPLATE = ", reward={reward:.2f}"
REWARD_SHARE = 0.9
METRICS_MESSAGE_TEMPLATE = "Step {step}/{total_steps}: training loss={train_loss:.2f}"
VALIDATION_MESSAGE_TEMPLATE = ", validation loss={valid_loss:.2f}"
FULL_VALIDATION_MESSAGE_TEMPLATE = ", full validation loss={full_valid_loss:.2f}"


@dataclass(frozen=True)
class StepMetrics:
    step: int
    train_loss: float
    train_mean_token_accuracy: float
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None
    train_reward_mean: float | None = None  # reinforcement jobs: the grader's mean score
    valid_reward_mean: float | None = None


@dataclass(frozen=True)
class MetricTargets:
    """Where a job's training curve ends, when a scenario says so: the last step reports
    exactly these values, and the curve before it is drawn towards them (its first steps
    unchanged, its noise kept)."""

    final_loss: float | None = None
    final_accuracy: float | None = None


# --- hashing primitives ------------------------------------------------------------------


def _material(domain: str, parts: Sequence[object]) -> bytes:
    """Unambiguous encoding: ("a", "b") and ("a\\x1fb",) and (1,) vs ("1",) all differ."""
    chunks = []
    for part in (domain, *parts):
        text = str(part).encode()
        chunks.append(f"{type(part).__name__}:{len(text)}:".encode() + text)
    return _PART_SEPARATOR.join(chunks)


def _digest(domain: str, parts: Sequence[object]) -> bytes:
    return hashlib.sha256(_material(domain, parts)).digest()


def _base62(material: bytes, length: int) -> str:
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    chars: list[str] = []
    block = 0
    while len(chars) < length:
        number = int.from_bytes(hashlib.sha256(material + block.to_bytes(4, "big")).digest(), "big")
        for _ in range(min(_CHARS_PER_DIGEST, length - len(chars))):
            number, index = divmod(number, len(BASE62))
            chars.append(BASE62[index])
        block += 1
    return "".join(chars)


def _units(digest: bytes) -> tuple[float, ...]:
    """Eight independent uniforms in (0, 1] from one 32-byte digest."""
    return tuple((int.from_bytes(digest[i : i + 4], "big") + 1) / 2**32 for i in range(0, 32, 4))


def _normal_pair(u1: float, u2: float) -> tuple[float, float]:
    """Box-Muller, clamped so a single unlucky step cannot produce an absurd value."""
    radius = math.sqrt(-2.0 * math.log(u1))
    angle = 2.0 * math.pi * u2
    return (
        max(-NOISE_CLAMP, min(NOISE_CLAMP, radius * math.cos(angle))),
        max(-NOISE_CLAMP, min(NOISE_CLAMP, radius * math.sin(angle))),
    )


def _between(bounds: tuple[float, float], unit: float) -> float:
    low, high = bounds
    return low + (high - low) * unit


# --- ids, names, seeds -------------------------------------------------------------------


def make_id(prefix: str, *parts: object, length: int | None = None) -> str:
    """`prefix` + `length` base62 chars derived from sha256 of (prefix, *parts); by default
    as many as the real ids of that prefix have (`id_length`)."""
    size = id_length(prefix) if length is None else length
    return prefix + _base62(_material(_ID_DOMAIN, (prefix, *parts)), size)


def id_length(prefix: str) -> int:
    """How many characters follow `prefix` in a real id of that kind."""
    return ID_LENGTHS.get(prefix, ID_LENGTH)


_PAIRS = [BASE62[i % len(BASE62)] + BASE62[i // len(BASE62)] for i in range(len(BASE62) ** 2)]
_PAIR_SPACE = len(_PAIRS)
_GROUP_SPACE = _PAIR_SPACE**3


def _to_base62(number: int) -> str:
    """`number` < 62**24 as 24 base62 digits, least significant first (as `_base62`): two
    digits per table look-up, the big integer divided only four times."""
    pairs = []
    for _ in range(ID_LENGTH // 6):
        number, group = divmod(number, _GROUP_SPACE)
        for _ in range(3):
            group, pair = divmod(group, _PAIR_SPACE)
            pairs.append(_PAIRS[pair])
    return "".join(pairs)


def _from_base62(text: str) -> int | None:
    number = 0
    for char in reversed(text):
        index = BASE62.find(char)
        if index < 0:
            return None
        number = number * len(BASE62) + index
    return number


@functools.lru_cache(maxsize=4096)
def _affine(prefix: str, parts: tuple[object, ...]) -> tuple[int, int, int]:
    """A seeded affine permutation x -> (a*x + b) mod 62**24 and its inverse's factor."""
    material = _material(_INDEXED_ID_DOMAIN, (prefix, *parts))
    digest = hashlib.sha256(material).digest() + hashlib.sha256(material + b"\x00").digest()
    a = int.from_bytes(digest[:32], "big") % _ID_SPACE | 1  # odd: coprime with 2**24
    while a % 31 == 0:  # 62**24 = 2**24 * 31**24
        a += 2
    b = int.from_bytes(digest[32:], "big") % _ID_SPACE
    return a, b, pow(a, -1, _ID_SPACE)


def indexed_id(prefix: str, index: int, *parts: object) -> str:
    """`prefix` + 24 base62 chars that look random but encode `index` (>= 0) for the owner
    named by `parts`: `id_index` gives the index back. Ids of a sequence computed on demand
    (a job's events) need no table to resolve a cursor."""
    a, b, _ = _affine(prefix, parts)
    return prefix + _to_base62((a * index + b) % _ID_SPACE)


def id_index(prefix: str, identifier: str, *parts: object) -> int | None:
    """The index `indexed_id` encoded, or None for a string that is not such an id."""
    if not identifier.startswith(prefix) or len(identifier) != len(prefix) + ID_LENGTH:
        return None
    number = _from_base62(identifier[len(prefix) :])
    if number is None:
        return None
    _, b, inverse = _affine(prefix, parts)
    index: int = (number - b) * inverse % _ID_SPACE
    return index


def model_tag(*parts: object) -> str:
    return _base62(_material(_MODEL_TAG_DOMAIN, parts), MODEL_TAG_LENGTH)


def fine_tuned_model_name(base_snapshot: str, org_name: str, suffix: str | None, tag: str) -> str:
    return FINE_TUNED_MODEL_TEMPLATE.format(
        base=base_snapshot, org=org_name, suffix=suffix or "", tag=tag
    )


def checkpoint_model_name(model_name: str, step: int) -> str:
    """A checkpoint's model: a fine-tuned model name (with the checkpoint's own tag) and
    `:ckpt-step-N`."""
    return CHECKPOINT_MODEL_TEMPLATE.format(model=model_name, step=step)


def hex_id(prefix: str, *parts: object, length: int = 32) -> str:
    """`prefix` + `length` lowercase hex digits derived from (prefix, *parts): the form of
    the real webhook ids (`evt_685343a1381c819085d44c354e1b330e`, `wh_…`)."""
    return prefix + _digest(_ID_DOMAIN, (prefix, *parts)).hex()[:length]


def draw_seed(*parts: object) -> int:
    """A seed in [0, MAX_SEED], for jobs created without one."""
    return int.from_bytes(_digest(_SEED_DOMAIN, parts)[:8], "big") % (MAX_SEED + 1)


def seeded_uniform(low: float, high: float, *parts: object) -> float:
    """A float in [low, high) determined by `parts` (for timing jitter and the like)."""
    unit = int.from_bytes(_digest(_UNIFORM_DOMAIN, parts)[:8], "big") / 2**64
    return low + (high - low) * unit


# --- metric curves -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Curve:
    initial_train_loss: float
    train_floor: float
    initial_valid_loss: float
    valid_floor: float
    train_decay: float
    valid_decay: float
    overfit_slope: float


def _curve(seed: int) -> _Curve:
    u = _units(_digest(_CURVE_DOMAIN, (seed,)))
    initial_train = _between(INITIAL_TRAIN_LOSS_RANGE, u[0])
    train_floor = _between(TRAIN_LOSS_FLOOR_RANGE, u[1])
    return _Curve(
        initial_train_loss=initial_train,
        train_floor=train_floor,
        initial_valid_loss=initial_train * _between(INITIAL_VALID_RATIO_RANGE, u[2]),
        valid_floor=train_floor + _between(GENERALIZATION_GAP_RANGE, u[3]),
        train_decay=_between(TRAIN_DECAY_RANGE, u[4]),
        valid_decay=_between(VALID_DECAY_RANGE, u[5]),
        overfit_slope=_between(OVERFIT_SLOPE_RANGE, u[6]),
    )


def _effective_epochs(
    step: int, steps_per_epoch: int, n_epochs: int, learning_rate_multiplier: float
) -> float:
    """Learning progress in epochs: the integral of a linearly decaying learning rate.

    The rate starts at twice its mean and reaches zero after n_epochs, so progress is
    fast early and flattens at the end; the whole run is worth
    n_epochs * multiplier / REFERENCE_LEARNING_RATE_MULTIPLIER effective epochs.
    """
    schedule_steps = steps_per_epoch * n_epochs
    fraction = min(step, schedule_steps) / schedule_steps
    scale = learning_rate_multiplier / REFERENCE_LEARNING_RATE_MULTIPLIER
    return scale * n_epochs * fraction * (2.0 - fraction)


def _towards(value: float, start: float, end: float, target: float) -> float:
    """`value` of a curve from `start` to `end`, mapped onto a curve from `start` to
    `target` (an affine map fixing `start`), or scaled where that cannot keep its shape."""
    if (start - end) * (start - target) > 0:
        return start - (start - value) * (start - target) / (start - end)
    return value * target / end if end else target


def _aimed(
    targets: MetricTargets,
    initial_loss: float,
    final_clean_loss: float,
    loss: float,
    accuracy_noise: float,
    *,
    last: bool,
) -> tuple[float, float]:
    """A step's training loss and accuracy on a curve that ends at the targets."""
    end_loss = final_clean_loss
    if targets.final_loss is not None:
        loss = (
            targets.final_loss
            if last
            else _towards(loss, initial_loss, end_loss, targets.final_loss)
        )
        end_loss = targets.final_loss
    accuracy = _accuracy(loss, accuracy_noise)
    if targets.final_accuracy is not None:
        if last:
            accuracy = targets.final_accuracy
        else:
            start, end = _accuracy(initial_loss, 0.0), _accuracy(end_loss, 0.0)
            aimed = _towards(accuracy, start, end, targets.final_accuracy)
            accuracy = max(0.0, min(1.0, aimed))
    return max(0.0, loss), accuracy


def _accuracy(loss: float, noise: float) -> float:
    value = math.exp(-ACCURACY_LOSS_SCALE * loss) + ACCURACY_NOISE * noise
    return max(0.0, min(1.0, value))


def _rounded(value: float) -> float:
    return round(value, METRIC_DECIMALS)


def step_metrics(
    seed: int,
    step: int,
    total_steps: int,
    steps_per_epoch: int,
    n_epochs: int,
    learning_rate_multiplier: float,
    has_validation: bool,
    *,
    evaluate: bool | None = None,
    targets: MetricTargets | None = None,
) -> StepMetrics:
    """The step's metrics as its metrics event reports them. With a validation file, a
    validation batch is scored every `VALID_EVAL_INTERVAL` steps (or when `evaluate` says
    so: a checkpoint is always scored) and the full validation set at each epoch's end and
    at the last step."""
    if steps_per_epoch < 1 or n_epochs < 1 or total_steps < 1:
        raise ValueError("steps_per_epoch, n_epochs and total_steps must be >= 1")
    if not 1 <= step <= total_steps:
        raise ValueError(f"step must be in [1, {total_steps}], got {step}")
    if learning_rate_multiplier <= 0:
        raise ValueError("learning_rate_multiplier must be > 0")
    curve = _curve(seed)
    epochs = _effective_epochs(step, steps_per_epoch, n_epochs, learning_rate_multiplier)
    u = _units(_digest(_STEP_NOISE_DOMAIN, (seed, step)))
    train_z, train_acc_z = _normal_pair(u[0], u[1])
    valid_z, valid_acc_z = _normal_pair(u[2], u[3])
    full_z, full_acc_z = _normal_pair(u[4], u[5])

    train_clean = curve.train_floor + (curve.initial_train_loss - curve.train_floor) * math.exp(
        -curve.train_decay * epochs
    )
    train_loss = train_clean * math.exp(TRAIN_LOSS_NOISE * train_z)
    train_accuracy = _accuracy(train_loss, train_acc_z)
    if targets is not None:
        final = _effective_epochs(total_steps, steps_per_epoch, n_epochs, learning_rate_multiplier)
        final_clean = curve.train_floor + (curve.initial_train_loss - curve.train_floor) * math.exp(
            -curve.train_decay * final
        )
        train_loss, train_accuracy = _aimed(
            targets,
            curve.initial_train_loss,
            final_clean,
            train_loss,
            train_acc_z,
            last=step == total_steps,
        )
    metrics = StepMetrics(
        step=step,
        train_loss=_rounded(train_loss),
        train_mean_token_accuracy=_rounded(train_accuracy),
    )
    if not has_validation:
        return metrics

    valid_clean = (
        curve.valid_floor
        + (curve.initial_valid_loss - curve.valid_floor) * math.exp(-curve.valid_decay * epochs)
        + curve.overfit_slope * max(0.0, epochs - OVERFIT_ONSET_EPOCHS)
    )
    valid_loss = valid_clean * math.exp(VALID_LOSS_NOISE * valid_z)
    if evaluate is None:
        evaluate = step % VALID_EVAL_INTERVAL == 0
    full_loss: float | None = None
    full_accuracy: float | None = None
    if step % steps_per_epoch == 0 or step == total_steps:
        full_value = valid_clean * math.exp(FULL_VALID_LOSS_NOISE * full_z)
        full_loss = _rounded(full_value)
        full_accuracy = _rounded(_accuracy(full_value, full_acc_z))
    return StepMetrics(
        step=step,
        train_loss=metrics.train_loss,
        train_mean_token_accuracy=metrics.train_mean_token_accuracy,
        valid_loss=_rounded(valid_loss) if evaluate else None,
        valid_mean_token_accuracy=(
            _rounded(_accuracy(valid_loss, valid_acc_z)) if evaluate else None
        ),
        full_valid_loss=full_loss,
        full_valid_mean_token_accuracy=full_accuracy,
    )


def with_rewards(m: StepMetrics) -> StepMetrics:
    """A reinforcement job's step: the grader's mean reward tracks how well the model does,
    so it rises as token accuracy does (a share of it, as graders are stricter)."""
    return replace(
        m,
        train_reward_mean=_rounded(m.train_mean_token_accuracy * REWARD_SHARE),
        valid_reward_mean=(
            None
            if m.valid_mean_token_accuracy is None
            else _rounded(m.valid_mean_token_accuracy * REWARD_SHARE)
        ),
    )


# --- result CSV and metrics events -------------------------------------------------------


def _csv_number(value: float | None) -> str:
    """Fixed-point, trailing zeros trimmed (1.5 -> "1.5", 0 -> "0.0"): never exponent form."""
    if value is None:
        return ""
    text = f"{value:.{METRIC_DECIMALS}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _csv_line(row: StepMetrics) -> str:
    cells = (
        str(row.step),
        _csv_number(row.train_loss),
        _csv_number(row.train_mean_token_accuracy),
        _csv_number(row.valid_loss),
        _csv_number(row.valid_mean_token_accuracy),
    )
    return ",".join(cells) + "\n"


def result_csv(rows: Iterable[StepMetrics]) -> bytes:
    return RESULT_CSV_HEADER.encode() + "".join(_csv_line(row) for row in rows).encode()


def result_file_chunks(rows: Iterable[StepMetrics], *, encoded: bool = True) -> Iterator[bytes]:
    """The result file as the API serves it, in chunks (a job of many steps never holds its
    whole CSV in memory): base64 of `result_csv(rows)` for chat models' jobs, the CSV
    itself (`encoded=False`) for babbage-002's and davinci-002's."""
    pending = RESULT_CSV_HEADER.encode()
    lines: list[str] = []
    for row in rows:
        lines.append(_csv_line(row))
        if len(lines) == RESULT_CSV_ROWS_PER_CHUNK:
            pending += "".join(lines).encode()
            lines = []
            whole = len(pending) - len(pending) % 3 if encoded else len(pending)
            yield base64.b64encode(pending[:whole]) if encoded else pending
            pending = pending[whole:]
    pending += "".join(lines).encode()
    yield base64.b64encode(pending) if encoded else pending


def metrics_event_message(m: StepMetrics, total_steps: int) -> str:
    message = METRICS_MESSAGE_TEMPLATE.format(
        step=m.step, total_steps=total_steps, train_loss=m.train_loss
    )
    if m.valid_loss is not None:
        message += VALIDATION_MESSAGE_TEMPLATE.format(valid_loss=m.valid_loss)
    if m.full_valid_loss is not None:
        message += FULL_VALIDATION_MESSAGE_TEMPLATE.format(full_valid_loss=m.full_valid_loss)
    if m.train_reward_mean is not None:
        message += REWARD_MESSAGE_TEMPLATE.format(reward=m.train_reward_mean)
    return message


def _jsonb_order(key: str) -> tuple[int, str]:
    return len(key), key


def metrics_event_data(m: StepMetrics, total_steps: int) -> dict[str, object]:
    """The event's `data`, keys in the real API's order (its store's: shorter keys first,
    e.g. step, train_loss, valid_loss, total_steps, full_valid_loss, ...)."""
    values: dict[str, object | None] = {
        "step": m.step,
        "train_loss": m.train_loss,
        "total_steps": total_steps,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_loss": m.valid_loss,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
        "full_valid_loss": m.full_valid_loss,
        "full_valid_mean_token_accuracy": m.full_valid_mean_token_accuracy,
        "train_reward_mean": m.train_reward_mean,
        "valid_reward_mean": m.valid_reward_mean,
    }
    return {k: values[k] for k in sorted(values, key=_jsonb_order) if values[k] is not None}


# --- synthetic completions ------------------------------------------------------------------

REPLY_SENTENCES = (2, 5)


def reply_text(*parts: object) -> str:
    """A deterministic, plausible reply for a prompt nobody trained: Faker seeded by `parts`."""
    from faker import Faker  # imported here: only inference needs it, and it loads slowly

    fake = Faker("en_US")
    fake.seed_instance(draw_seed("reply", *parts))
    low, high = REPLY_SENTENCES
    count = low + draw_seed("reply-length", *parts) % (high - low + 1)
    return " ".join(fake.sentence() for _ in range(count))


def system_fingerprint(model: str) -> str:
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]
