"""The Qwen-Image-Edit miniature's processor in the transformers-5 layout.

tools/goldens/qwen_image_edit_mini.py writes `processor/preprocessor_config.json` (the image processor's settings at
the top level, transformers 4's file). transformers 5's `ProcessorMixin.save_pretrained` writes the whole processor
as `processor_config.json` instead, the image processor's settings nested under "image_processor". This script loads
the miniature's processor and tokenizer with transformers and saves them as a `Qwen2VLProcessor`, keeping only that
file, so the Swift loader is checked on both layouts. Runs after qwen_image_edit_mini.py (`make goldens` order).
"""

import os
import shutil
import tempfile

from transformers import AutoTokenizer, Qwen2VLImageProcessor, Qwen2VLProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures")
MINI = os.path.join(ROOT, "qwen_image_edit_mini")
OUT = os.path.join(ROOT, "qwen_image_edit_processor_v5")


def main():
    image = Qwen2VLImageProcessor.from_pretrained(os.path.join(MINI, "processor"))
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(MINI, "tokenizer"))
    video = Qwen2VLVideoProcessor(
        patch_size=image.patch_size, merge_size=image.merge_size, temporal_patch_size=image.temporal_patch_size)
    processor = Qwen2VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video)
    with tempfile.TemporaryDirectory() as folder:
        processor.save_pretrained(folder)
        written = sorted(os.listdir(folder))
        assert "processor_config.json" in written and "preprocessor_config.json" not in written, written
        os.makedirs(OUT, exist_ok=True)
        shutil.copy(os.path.join(folder, "processor_config.json"), os.path.join(OUT, "processor_config.json"))
    print("wrote", os.path.join(OUT, "processor_config.json"))


if __name__ == "__main__":
    main()
