"""How halo loads a model and its processor with transformers, from a local folder or the hub.

The learner loads the policy with `load_base_model` and rebuilds the sampler's prompts with `load_processor`; both
work where torchvision is absent (the learner's environment must not have PyPI's CUDA-linked torchvision beside
CPU torch). transformers' own progress bars are muted: the CLI shows its own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halo_cli.core.errors import NotFoundError
from halo_cli.core.models.location import locate_model

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI must start fast
    import torch
    from transformers import PreTrainedModel, ProcessorMixin


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """transformers draws a 'Writing model shards' bar on stderr; the CLI shows its own status instead."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _torchvision_usable() -> bool:
    """Whether transformers can build torchvision-backed processors here (the vLLM env: yes; the learner: no)."""
    if importlib.util.find_spec("torchvision") is None:
        return False
    from transformers.utils import is_torchvision_available

    return bool(is_torchvision_available())


def _image_only_processor_class() -> type:
    """Qwen3VLProcessor without its video half, for environments without torchvision.

    Qwen3VLProcessor.__init__ always passes a video processor on to ProcessorMixin, which requires a
    VideoProcessorMixin (a torchvision class). This subclass's signature names only the image processor and the
    tokenizer, so `from_pretrained` loads just those two (the image one on its PIL backend), and a shim between
    Qwen3VLProcessor and ProcessorMixin in the MRO drops the video argument. Images, text and chat templates then
    behave exactly as with the full processor; videos are not supported.
    """
    from transformers import Qwen3VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class _DropVideoProcessor(ProcessorMixin):
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, video_processor: Any = None,
                     **kwargs: Any) -> None:
            ProcessorMixin.__init__(self, image_processor, tokenizer, **kwargs)

    class Qwen3VLImageProcessorOnly(Qwen3VLProcessor, _DropVideoProcessor):
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                     **kwargs: Any) -> None:
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

        def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
            # It would save a processor without its video half, which vLLM's AutoProcessor cannot load.
            raise NotImplementedError(
                "an image-only Qwen3-VL processor cannot be saved; copy the base model's processor files instead"
            )

    return Qwen3VLImageProcessorOnly


_IMAGE_ONLY_CLASS: type | None = None


def _model_type(path: Path) -> str | None:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return None


def load_processor(path: str | Path, *, local_files_only: bool | None = None) -> "ProcessorMixin":
    """The model's processor (tokenizer + image processor + chat template), also where torchvision is absent.

    With torchvision (the vLLM env, GPU machines) this is `AutoProcessor`. Without it, a Qwen3-VL model gets an
    image-only Qwen3VLProcessor (see `_image_only_processor_class`), which tokenizes and pre-processes images
    exactly like the full one. `local_files_only` defaults to True for a local folder.
    """
    global _IMAGE_ONLY_CLASS
    from transformers import AutoProcessor

    where = locate_model(path)
    is_local = where.local
    if local_files_only is None:
        local_files_only = is_local
    if local_files_only and not is_local:
        raise NotFoundError(f"model folder not found: {path}")
    source = where.source
    local = Path(source)
    if _torchvision_usable():
        return AutoProcessor.from_pretrained(source, local_files_only=local_files_only)
    model_type = _model_type(local) if is_local else None
    if model_type is None and not is_local:
        from transformers import AutoConfig

        model_type = AutoConfig.from_pretrained(source, local_files_only=local_files_only).model_type
    if model_type in ("qwen3_vl", "qwen3_vl_moe"):
        if _IMAGE_ONLY_CLASS is None:
            _IMAGE_ONLY_CLASS = _image_only_processor_class()
        return _IMAGE_ONLY_CLASS.from_pretrained(source, local_files_only=local_files_only)
    return AutoProcessor.from_pretrained(source, local_files_only=local_files_only)




def load_base_model(
    name: str, dtype: "torch.dtype", device: "torch.device", *, trust_remote_code: bool = False
) -> "PreTrainedModel":
    """The base VLM with transformers (``AutoModelForImageTextToText``: Qwen3-VL resolves to
    ``Qwen3VLForConditionalGeneration``), offline when ``name`` is a local folder."""
    import torch
    from transformers import AutoModelForImageTextToText

    where = locate_model(name)
    kwargs: dict[str, Any] = dict(dtype=dtype, local_files_only=where.local, trust_remote_code=trust_remote_code)
    if device.type == "cuda":
        # Straight onto the GPU, shard by shard: no full copy of an 8B model in host RAM first.
        kwargs["device_map"] = {"": device.index if device.index is not None else torch.cuda.current_device()}
    try:
        with quiet_progress_bars():  # the CLI shows its own progress; tqdm bars would garble it
            model = AutoModelForImageTextToText.from_pretrained(where.source, **kwargs)
    except OSError as e:
        raise NotFoundError(f"cannot load model {name}: {e}") from None
    return model.to(device) if device.type != "cuda" else model
