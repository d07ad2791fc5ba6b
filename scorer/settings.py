"""Settings from the environment (``HOSTSCORE_*``), read and checked once.

A bad value (``HOSTSCORE_MAX_CALL_MINUTES=nan``, a cache path that is a file) is refused with one
line naming the variable, rather than silently switching a limit off or failing deep in a run.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CACHE = Path.home() / ".cache" / "hostscore"
# A day: longer is not a call, and the limit exists to stop a runaway file before it is decoded.
MAX_CALL_MINUTES_CEILING = 24 * 60


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

    @field_validator("cache")
    @classmethod
    def _cache_is_a_folder(cls, path: Path) -> Path:
        path = path.expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError("exists and is not a folder")
        return path

    @field_validator("profile", "models_dir", mode="before")
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
