"""Settings from the environment (``HOSTSCORE_*``), read and checked once.

A bad value (``HOSTSCORE_MAX_CALL_MINUTES=nan``, a cache path that is a file) is refused with one
line naming the variable, rather than silently switching a limit off or failing deep in a run.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CACHE = Path.home() / ".cache" / "hostscore"
DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "hostscore"
# A day: longer is not a call, and the limit exists to stop a runaway file before it is decoded.
MAX_CALL_MINUTES_CEILING = 24 * 60
# Whisper base: on the 20 rated conversations spoken as 8 kHz calls, tiny.en's word errors ("Ahmed" heard as
# "AppNet", a one-word "Transferring." lost) moved a score by over 10 points or changed the outcome on 6 stereo and
# 7 mono calls, base on 4 and 3; it costs 1.6x tiny.en's time (11.9x real time on 2 cores, README).
DEFAULT_MODEL = "base"


class SettingsError(ValueError):
    """An environment variable with a value hostscore cannot use; the message is one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOSTSCORE_", extra="ignore")

    max_call_minutes: float = Field(240.0, gt=0, le=MAX_CALL_MINUTES_CEILING, allow_inf_nan=False)
    # The joined base model, converted openai-whisper checkpoints, synthesised test speech.
    cache: Path = DEFAULT_CACHE
    profile: Path | None = None
    models_dir: Path | None = None
    debug: bool = False  # show the traceback of an unexpected error
    # bfloat16: the sentence encoder runs under bfloat16 autocast, 1.5x the text throughput on a CPU
    # with native bfloat16 (AVX512-BF16, AMX) and a GPU, scores within 0.4 points of float32's on the
    # 200 corpus dialogues, same outcomes (bench/text_throughput.py); float32 scores are the same everywhere.
    # A CPU without native bfloat16 (AVX2 only) emulates it: 24x slower, scores up to 8.4 points away
    encoder_precision: Literal["float32", "bfloat16"] = "float32"

    # The service (api/): where it keeps its state, and its limits.
    data_dir: Path = DEFAULT_DATA_DIR  # the SQLite database and the uploaded recordings
    database_url: str | None = None  # e.g. postgresql+psycopg://user@host/db; default SQLite in data_dir
    broker_url: str | None = None  # e.g. redis://127.0.0.1:6379/0: Celery workers; default an in-process pool
    broker_queue: str = Field("hostscore", min_length=1, max_length=200)  # the Celery queue: one per deployment sharing a broker
    workers: int = Field(1, ge=1, le=64)  # in-process scoring threads (each call uses every core it can)
    max_upload_mb: float = Field(500.0, gt=0, allow_inf_nan=False)
    job_attempts: int = Field(3, ge=1, le=20)  # a call whose scoring fails this many times is FAILED
    job_lease_s: float = Field(60.0, gt=0, allow_inf_nan=False)  # a claimed job not heard from this long is retried
    rate_limit_per_minute: int = Field(600, ge=1)  # requests per API key
    # status reads (GET /v1/calls/{id}) served at once by the API: more only take turns on Python's one lock
    # (p99 at ten in flight: 20-38 against 30-48 ms with 40); raise it for a database far away
    status_read_threads: int = Field(2, ge=1, le=64)
    retention_days: float | None = Field(None, gt=0, allow_inf_nan=False)  # calls older than this are deleted
    retention_sweep_s: float = Field(600.0, gt=0, allow_inf_nan=False)  # how often calls past retention are looked for
    # webhooks: the first retry this long after a failed POST, each next one 2.5 times longer (5 s: 12 attempts over ~22 h)
    webhook_retry_base_s: float = Field(5.0, gt=0, allow_inf_nan=False)
    webhook_attempts: int = Field(12, ge=1, le=30)
    model: str = DEFAULT_MODEL  # the service's Whisper model and engine
    engine: str = "faster-whisper"

    @field_validator("cache", "data_dir")
    @classmethod
    def _is_a_folder(cls, path: Path) -> Path:
        path = path.expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError("exists and is not a folder")
        return path

    @field_validator("profile", "models_dir", "database_url", "broker_url", "retention_days", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if value == "" else value

    @property
    def max_call_s(self) -> float:
        return 60 * self.max_call_minutes


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process. Tests that change the environment call ``settings.cache_clear()``."""
    try:
        return Settings()
    except ValidationError as e:
        raise SettingsError(describe(e)) from None


def describe(error: ValidationError) -> str:
    """The first problem of a pydantic error, as ``HOSTSCORE_NAME=value: what is wrong``."""
    problem = error.errors()[0]
    name = "HOSTSCORE_" + str(problem["loc"][0]).upper() if problem["loc"] else "HOSTSCORE setting"
    value = problem.get("input")
    message = problem["msg"].removeprefix("Value error, ")
    if name == "HOSTSCORE_MAX_CALL_MINUTES":
        message = f"must be a number of minutes above 0 and at most {MAX_CALL_MINUTES_CEILING} ({message.lower()})"
    shown = f"={value}" if isinstance(value, str) else ""  # the environment gives strings
    return f"{name}{shown}: {message}"
